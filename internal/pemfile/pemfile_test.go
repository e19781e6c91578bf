package pemfile

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ledgerless/ledgerless/internal/certtest"
)

func TestCertPool(t *testing.T) {
	ca := certtest.NewCA(t, "pemfile")
	pool, err := CertPool(ca.File)
	if err != nil {
		t.Fatal(err)
	}
	if !pool.Equal(ca.Pool()) {
		t.Error("the pool does not hold the CA's certificate")
	}

	dir := t.TempDir()
	notPEM := filepath.Join(dir, "not.pem")
	if err := os.WriteFile(notPEM, []byte("not a certificate\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for path, want := range map[string]string{
		notPEM:                           "no PEM certificate",
		filepath.Join(dir, "absent.pem"): "no such file",
	} {
		if _, err := CertPool(path); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("CertPool(%s): %v, want an error about %q", path, err, want)
		}
	}
}
