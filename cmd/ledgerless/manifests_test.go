package main

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/yaml"
)

const manifestsDir = "../../deployments/kubernetes"

// manifest is one YAML document of a manifest file.
type manifest struct {
	file string
	obj  any // *corev1.Service, *appsv1.StatefulSet, ...
}

// kinds are the API types the manifests may hold, by apiVersion/kind.
var kinds = map[string]func() any{
	"v1/Namespace":                  func() any { return &corev1.Namespace{} },
	"v1/Service":                    func() any { return &corev1.Service{} },
	"v1/ConfigMap":                  func() any { return &corev1.ConfigMap{} },
	"v1/Secret":                     func() any { return &corev1.Secret{} },
	"apps/v1/StatefulSet":           func() any { return &appsv1.StatefulSet{} },
	"apps/v1/Deployment":            func() any { return &appsv1.Deployment{} },
	"policy/v1/PodDisruptionBudget": func() any { return &policyv1.PodDisruptionBudget{} },
}

// loadManifests decodes every document of every file in dir into its
// Kubernetes API type, refusing unknown and duplicate fields.
func loadManifests(t *testing.T, dir string) []manifest {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(dir, "*.yaml"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no manifests in %s (%v)", dir, err)
	}
	var out []manifest
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for i, doc := range regexp.MustCompile(`(?m)^---\s*$`).Split(string(data), -1) {
			if strings.TrimSpace(stripComments(doc)) == "" {
				continue
			}
			var tm metav1.TypeMeta
			if err := yaml.Unmarshal([]byte(doc), &tm); err != nil {
				t.Errorf("%s document %d: %v", f, i+1, err)
				continue
			}
			newObj, ok := kinds[tm.APIVersion+"/"+tm.Kind]
			if !ok {
				t.Errorf("%s document %d: unexpected %s %s", f, i+1, tm.APIVersion, tm.Kind)
				continue
			}
			obj := newObj()
			if err := yaml.UnmarshalStrict([]byte(doc), obj); err != nil {
				t.Errorf("%s document %d (%s): %v", f, i+1, tm.Kind, err)
				continue
			}
			out = append(out, manifest{file: f, obj: obj})
		}
	}
	return out
}

func stripComments(doc string) string {
	var b bytes.Buffer
	for _, line := range strings.Split(doc, "\n") {
		if !strings.HasPrefix(strings.TrimSpace(line), "#") {
			b.WriteString(line + "\n")
		}
	}
	return b.String()
}

// TestKubernetesManifests validates both variants: every document decodes
// strictly into its API type; every ledgerless container runs serve with
// flags serve accepts (parsed by serve's own flag set) and every $(VAR)
// they use defined; probes, resources, security context and disruption
// budgets are there; and the embedded variant's initial cluster names
// exactly the StatefulSet's pods through its headless Service.
func TestKubernetesManifests(t *testing.T) {
	for _, variant := range []string{"embedded", "external-etcd"} {
		t.Run(variant, func(t *testing.T) {
			ms := loadManifests(t, filepath.Join(manifestsDir, variant))
			var pods []*corev1.PodTemplateSpec
			var pdbs []*policyv1.PodDisruptionBudget
			var services []*corev1.Service
			var sts *appsv1.StatefulSet
			for _, m := range ms {
				switch o := m.obj.(type) {
				case *appsv1.StatefulSet:
					sts = o
					pods = append(pods, &o.Spec.Template)
					checkSelector(t, o.Name, o.Spec.Selector, o.Spec.Template.Labels)
					if len(o.Spec.VolumeClaimTemplates) == 0 {
						t.Errorf("StatefulSet %s has no persistent volumes", o.Name)
					}
				case *appsv1.Deployment:
					pods = append(pods, &o.Spec.Template)
					checkSelector(t, o.Name, o.Spec.Selector, o.Spec.Template.Labels)
				case *policyv1.PodDisruptionBudget:
					pdbs = append(pdbs, o)
				case *corev1.Service:
					services = append(services, o)
				}
			}
			if len(pods) != 1 || len(pdbs) != 1 {
				t.Fatalf("%d workloads and %d disruption budgets, want one of each", len(pods), len(pdbs))
			}
			pod := pods[0]
			checkSelector(t, pdbs[0].Name, pdbs[0].Spec.Selector, pod.Labels)
			if len(services) == 0 {
				t.Errorf("no Service")
			}
			for _, s := range services {
				if !labelsMatch(s.Spec.Selector, pod.Labels) {
					t.Errorf("Service %s selects %v, not the pods %v", s.Name, s.Spec.Selector, pod.Labels)
				}
			}
			checkPod(t, pod)
			if variant == "embedded" {
				checkEmbedded(t, sts, services)
			}
		})
	}
}

func labelsMatch(selector, labels map[string]string) bool {
	if len(selector) == 0 {
		return false
	}
	for k, v := range selector {
		if labels[k] != v {
			return false
		}
	}
	return true
}

func checkSelector(t *testing.T, name string, sel *metav1.LabelSelector, labels map[string]string) {
	t.Helper()
	if sel == nil || len(sel.MatchExpressions) > 0 || !labelsMatch(sel.MatchLabels, labels) {
		t.Errorf("%s: selector %+v does not select the pods %v", name, sel, labels)
	}
}

var varRef = regexp.MustCompile(`\$\(([A-Za-z_][A-Za-z0-9_]*)\)`)

func checkPod(t *testing.T, pod *corev1.PodTemplateSpec) {
	t.Helper()
	ps := pod.Spec.SecurityContext
	if ps == nil || ps.RunAsNonRoot == nil || !*ps.RunAsNonRoot || ps.RunAsUser == nil || *ps.RunAsUser == 0 {
		t.Errorf("pod security context %+v: want runAsNonRoot and a non-zero runAsUser", ps)
	}
	if len(pod.Spec.Containers) != 1 {
		t.Fatalf("%d containers, want 1", len(pod.Spec.Containers))
	}
	c := pod.Spec.Containers[0]
	if len(c.Args) == 0 || c.Args[0] != "serve" {
		t.Fatalf("container %s args %v: want serve ...", c.Name, c.Args)
	}
	serve := newServe()
	if err := serve.ParseFlags(c.Args[1:]); err != nil {
		t.Errorf("container %s: serve refuses its flags: %v", c.Name, err)
	}
	if rest := serve.Flags().Args(); len(rest) > 0 {
		t.Errorf("container %s: arguments that are no flags: %v", c.Name, rest)
	}
	env := map[string]bool{}
	for _, e := range c.Env {
		env[e.Name] = true
	}
	for _, a := range c.Args {
		for _, m := range varRef.FindAllStringSubmatch(a, -1) {
			if !env[m[1]] {
				t.Errorf("container %s: %s uses $(%s), which is not in its env (Kubernetes leaves it unexpanded)", c.Name, a, m[1])
			}
		}
	}
	ports := map[string]bool{}
	for _, p := range c.Ports {
		ports[p.Name] = true
	}
	for what, probe := range map[string]*corev1.Probe{"/readyz": c.ReadinessProbe, "/healthz": c.LivenessProbe} {
		if probe == nil || probe.HTTPGet == nil || probe.HTTPGet.Path != what || !ports[probe.HTTPGet.Port.String()] {
			t.Errorf("container %s: probe %s is %+v; want an httpGet of %s on a named port of the container", c.Name, what, probe, what)
		}
	}
	if c.Resources.Requests.Cpu().IsZero() || c.Resources.Requests.Memory().IsZero() {
		t.Errorf("container %s: resource requests %v, want cpu and memory", c.Name, c.Resources.Requests)
	}
	cs := c.SecurityContext
	if cs == nil || cs.AllowPrivilegeEscalation == nil || *cs.AllowPrivilegeEscalation || cs.ReadOnlyRootFilesystem == nil ||
		!*cs.ReadOnlyRootFilesystem || cs.Capabilities == nil || !slices.Contains(cs.Capabilities.Drop, "ALL") {
		t.Errorf("container %s: security context %+v; want no privilege escalation, a read-only root and every capability dropped", c.Name, cs)
	}
	mounts := map[string]string{}
	for _, m := range c.VolumeMounts {
		mounts[m.MountPath] = m.Name
	}
	if dir := serve.Flags().Lookup("data-dir").Value.String(); serve.Flags().Changed("data-dir") && mounts[dir] == "" {
		t.Errorf("container %s: --data-dir %s is not a mounted volume (the root file system is read-only)", c.Name, dir)
	}
}

// checkEmbedded checks that the initial cluster is the StatefulSet's pods,
// named through its headless Service, with the peer URLs the pods
// advertise.
func checkEmbedded(t *testing.T, sts *appsv1.StatefulSet, services []*corev1.Service) {
	t.Helper()
	var headless *corev1.Service
	for _, s := range services {
		if s.Name == sts.Spec.ServiceName {
			headless = s
		}
	}
	if headless == nil || headless.Spec.ClusterIP != corev1.ClusterIPNone || !headless.Spec.PublishNotReadyAddresses {
		t.Fatalf("StatefulSet %s's Service %q: %+v; want a headless Service publishing not-ready pods", sts.Name, sts.Spec.ServiceName, headless)
	}
	serve := newServe()
	if err := serve.ParseFlags(sts.Spec.Template.Spec.Containers[0].Args[1:]); err != nil {
		t.Fatal(err)
	}
	flag := func(name string) string { return serve.Flags().Lookup(name).Value.String() }
	if sts.Spec.Replicas == nil || *sts.Spec.Replicas != 3 {
		t.Fatalf("StatefulSet replicas %v, want 3", sts.Spec.Replicas)
	}
	peer := func(pod string) string {
		return strings.ReplaceAll(flag("embedded-peer-url"), "$(POD_NAME)", pod)
	}
	var want []string
	for i := range int(*sts.Spec.Replicas) {
		pod := fmt.Sprintf("%s-%d", sts.Name, i)
		want = append(want, pod+"="+peer(pod))
	}
	if got := flag("embedded-initial-cluster"); got != strings.Join(want, ",") {
		t.Errorf("--embedded-initial-cluster %s\nwant %s", got, strings.Join(want, ","))
	}
	if !strings.Contains(flag("embedded-peer-url"), "$(POD_NAME)."+headless.Name+".") || flag("replica-id") != "$(POD_NAME)" {
		t.Errorf("peer URL %s and replica id %s: want the pod's name through Service %s", flag("embedded-peer-url"), flag("replica-id"), headless.Name)
	}
}
