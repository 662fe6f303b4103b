// Package apispec holds serve's HTTP API against its OpenAPI document,
// docs/openapi.yaml, for tests: which operations it documents, and
// whether an answer serve gave validates against it. It is imported by
// tests only, so the validator (kin-openapi) never reaches the binary.
package apispec

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/legacy"
)

// Spec is the loaded, validated document.
type Spec struct {
	Doc    *openapi3.T
	router routers.Router
}

var (
	once    sync.Once
	loaded  *Spec
	loadErr error
)

// Path finds docs/openapi.yaml from the working directory up (tests run
// in their package's directory).
func Path() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		p := filepath.Join(dir, "docs", "openapi.yaml")
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return p, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("apispec: no go.mod above the working directory")
		}
		dir = parent
	}
}

// Load reads, resolves and validates the document once per test binary.
func Load() (*Spec, error) {
	once.Do(func() {
		path, err := Path()
		if err != nil {
			loadErr = err
			return
		}
		loaded, loadErr = LoadFile(path)
	})
	return loaded, loadErr
}

// LoadFile reads, resolves and validates the document at path: an
// OpenAPI 3.1 document whose schemas are checked as JSON Schema 2020-12.
func LoadFile(path string) (*Spec, error) {
	l := openapi3.NewLoader()
	doc, err := l.LoadFromFile(path)
	if err != nil {
		return nil, fmt.Errorf("apispec: load %s: %w", path, err)
	}
	if !doc.IsOpenAPI31OrLater() {
		return nil, fmt.Errorf("apispec: %s is OpenAPI %s, want 3.1", path, doc.OpenAPI)
	}
	if err := doc.Validate(context.Background()); err != nil {
		return nil, fmt.Errorf("apispec: %s is not a valid OpenAPI document: %w", path, err)
	}
	// Answers come from test servers on any port: route by path alone.
	routed := *doc
	routed.Servers = nil
	r, err := legacy.NewRouter(&routed)
	if err != nil {
		return nil, fmt.Errorf("apispec: %w", err)
	}
	return &Spec{Doc: doc, router: r}, nil
}

// Has reports whether the document has the operation of a ServeMux
// pattern such as "GET /wx/storage/fetch/{key}".
func (s *Spec) Has(pattern string) bool {
	method, path, ok := strings.Cut(pattern, " ")
	if !ok {
		return false
	}
	item := s.Doc.Paths.Value(path)
	return item != nil && item.GetOperation(method) != nil
}

// Operations lists the document's operations as ServeMux patterns.
func (s *Spec) Operations() []string {
	var out []string
	for path, item := range s.Doc.Paths.Map() {
		for method := range item.Operations() {
			out = append(out, method+" "+path)
		}
	}
	return out
}

func init() {
	// fetch's answers are image bytes: validated as opaque content.
	for _, t := range []string{"image/jpeg", "image/png", "image/webp", "image/gif"} {
		openapi3filter.RegisterBodyDecoder(t, openapi3filter.FileBodyDecoder)
	}
}

// Check validates one answer serve gave to req: its status, headers and
// body against the operation the document has for req's method and path.
// A request that matches no operation must have been answered as a
// routing error: HTTP 404 or 405 with the RoutingError envelope.
func (s *Spec) Check(req *http.Request, status int, header http.Header, body []byte) error {
	route, params, err := s.router.FindRoute(req)
	if err != nil {
		return s.checkRoutingError(req, status, header, body)
	}
	in := &openapi3filter.ResponseValidationInput{
		RequestValidationInput: &openapi3filter.RequestValidationInput{Request: req, PathParams: params, Route: route},
		Status:                 status,
		Header:                 header,
		Body:                   io.NopCloser(bytes.NewReader(body)),
		Options:                &openapi3filter.Options{IncludeResponseStatus: true, MultiError: true},
	}
	if err := openapi3filter.ValidateResponse(context.Background(), in); err != nil {
		return fmt.Errorf("%s %s: HTTP %d %.300q: %w", req.Method, req.URL.Path, status, body, err)
	}
	if strings.HasPrefix(req.URL.Path, "/wx/") && strings.HasPrefix(header.Get("Content-Type"), "application/json") {
		return checkEnvelopeStatus(req, status, body)
	}
	return nil
}

// checkEnvelopeStatus: an envelope's HTTP status is 200, except that a
// 404 (an unknown storage key) says errno 404.
func checkEnvelopeStatus(req *http.Request, status int, body []byte) error {
	var e struct{ Errno *int }
	if err := json.Unmarshal(body, &e); err != nil || e.Errno == nil {
		return fmt.Errorf("%s %s: not an envelope: %.300q", req.Method, req.URL.Path, body)
	}
	if status != http.StatusOK && *e.Errno != status {
		return fmt.Errorf("%s %s: HTTP %d with errno %d", req.Method, req.URL.Path, status, *e.Errno)
	}
	return nil
}

func (s *Spec) checkRoutingError(req *http.Request, status int, header http.Header, body []byte) error {
	where := req.Method + " " + req.URL.Path
	if status != http.StatusNotFound && status != http.StatusMethodNotAllowed {
		return fmt.Errorf("%s is no operation of the document, yet answered HTTP %d", where, status)
	}
	if req.Method == http.MethodHead {
		return nil // no body to check
	}
	if ct := header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		return fmt.Errorf("%s: routing error with Content-Type %q, want the JSON envelope", where, ct)
	}
	var v any
	if err := json.Unmarshal(body, &v); err != nil {
		return fmt.Errorf("%s: routing error that is not JSON: %.300q", where, body)
	}
	ref := s.Doc.Components.Schemas["RoutingError"]
	if ref == nil || ref.Value == nil {
		return errors.New("apispec: the document has no RoutingError schema")
	}
	if err := ref.Value.VisitJSON(v, openapi3.EnableJSONSchema2020()); err != nil {
		return fmt.Errorf("%s: HTTP %d %.300q: %w", where, status, body, err)
	}
	if errno, _ := v.(map[string]any)["errno"].(float64); strconv.Itoa(int(errno)) != strconv.Itoa(status) {
		return fmt.Errorf("%s: HTTP %d with errno %v", where, status, errno)
	}
	return nil
}
