// Package openapitest holds the Go types of the API's clients to the
// API's OpenAPI document, handlers/openapi.yaml, which the handler tests
// hold the server to: a client that keeps its own copy of the JSON types
// (so as not to import the server's packages) cannot drift from the API
// unnoticed.
package openapitest

import (
	"fmt"
	"path/filepath"
	"reflect"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/openapi3"
)

var (
	loadOnce sync.Once
	doc      *openapi3.T
	loadErr  error
)

// Document loads handlers/openapi.yaml once and validates it.
func Document() (*openapi3.T, error) {
	loadOnce.Do(func() {
		_, here, _, _ := runtime.Caller(0)
		path := filepath.Join(filepath.Dir(here), "..", "..", "handlers", "openapi.yaml")
		loader := openapi3.NewLoader()
		if doc, loadErr = loader.LoadFromFile(path); loadErr == nil {
			loadErr = doc.Validate(loader.Context)
		}
		if loadErr != nil {
			loadErr = fmt.Errorf("openapi.yaml: %w", loadErr)
		}
	})
	return doc, loadErr
}

func document(t testing.TB) *openapi3.T {
	t.Helper()
	d, err := Document()
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// Direction says which way a type's JSON travels.
type Direction int

const (
	// Answer types are decoded from the controller's answers: each of
	// their fields must be a property of the schema, of the same type,
	// and nullable only if the field can hold null.
	Answer Direction = iota
	// Request types are encoded into requests: besides, every property
	// the schema requires must be a field that is always sent.
	Request
)

// Fits fails the test unless the JSON of v's type fits the document's
// component schema name in direction d, down to nested objects and arrays.
func Fits(t testing.TB, v any, name string, d Direction) {
	t.Helper()
	ref := document(t).Components.Schemas[name]
	if ref == nil {
		t.Fatalf("openapi.yaml has no schema %s", name)
	}
	for _, problem := range fit(reflect.TypeOf(v), ref.Value, name, d) {
		t.Errorf("%T does not fit schema %s: %s", v, name, problem)
	}
}

var timeType = reflect.TypeFor[time.Time]()

// fit lists how typ does not fit s; path names the place in the schema.
func fit(typ reflect.Type, s *openapi3.Schema, path string, d Direction) []string {
	nullable := typ.Kind() == reflect.Pointer
	if nullable {
		typ = typ.Elem()
	}
	if s.Type.IncludesNull() && !nullable && typ.Kind() != reflect.Slice {
		return []string{path + " may be null, which " + typ.String() + " cannot hold"}
	}
	var want string
	switch {
	case typ == timeType:
		want = openapi3.TypeString
	case typ.Kind() == reflect.Struct:
		want = openapi3.TypeObject
	case typ.Kind() == reflect.Slice:
		want = openapi3.TypeArray
	case typ.Kind() == reflect.String:
		want = openapi3.TypeString
	case typ.Kind() == reflect.Bool:
		want = openapi3.TypeBoolean
	case typ.Kind() >= reflect.Int && typ.Kind() <= reflect.Uint64:
		want = openapi3.TypeInteger
	default:
		return []string{path + ": no check for " + typ.String()}
	}
	if !s.Type.Includes(want) {
		return []string{path + " is " + strings.Join(s.Type.Slice(), " or ") + ", not " + want + " as " + typ.String()}
	}
	switch want {
	case openapi3.TypeArray:
		return fit(typ.Elem(), s.Items.Value, path+"[]", d)
	case openapi3.TypeObject:
		return fitObject(typ, s, path, d)
	}
	return nil
}

func fitObject(typ reflect.Type, s *openapi3.Schema, path string, d Direction) []string {
	var problems []string
	sent := map[string]bool{}
	for f := range typ.Fields() {
		name, opts, _ := strings.Cut(f.Tag.Get("json"), ",")
		if !f.IsExported() || name == "-" {
			continue
		}
		if name == "" {
			name = f.Name
		}
		prop := s.Properties[name]
		if prop == nil {
			problems = append(problems, path+" has no property "+name)
			continue
		}
		sent[name] = !strings.Contains(opts, "omitempty") && !strings.Contains(opts, "omitzero")
		problems = append(problems, fit(f.Type, prop.Value, path+"."+name, d)...)
	}
	if d == Request {
		for _, name := range s.Required {
			if !sent[name] {
				problems = append(problems, path+" requires "+name+", which is not always sent")
			}
		}
	}
	return problems
}
