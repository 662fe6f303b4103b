package mockwx_test

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/oactl/oactl/internal/mockwx"
)

// fuzzRoutes are the routes whose input the fuzzer shapes. The fault
// routes are left out: a fuzzed latency would slow every later case.
var fuzzRoutes = []struct{ method, path string }{
	{"GET", "/sns/jscode2session"},
	{"GET", "/cgi-bin/token"},
	{"POST", "/cgi-bin/stable_token"},
	{"GET", "/wxa/checksession"},
	{"POST", "/wxa/business/getuserphonenumber"},
	{"POST", "/__mock/login"},
	{"GET", "/__mock/users/alice"},
	{"PUT", "/__mock/phones/alice"},
	{"POST", "/__mock/encrypt"},
	{"GET", "/wxa/resetusersessionkey"},
	{"POST", "/wxa/getuserriskrank"},
	{"PUT", "/__mock/users/alice"},
	{"DELETE", "/__mock/users/alice"},
	{"GET", "/__mock/journal"},
	{"GET", "/__mock/calls"},
}

// FuzzMockwxRequest: any query and body on any of mockwx's routes gets an
// answer (no panic, no hang), and every answer but a garbage~ directive's
// is JSON. Testers point hand-written clients at mockwx, so its parsers
// see outside input too.
func FuzzMockwxRequest(f *testing.F) {
	srv := mockwx.New(mockwx.Config{AppID: "wxAPP", Secret: "s3cret"})
	for i := range fuzzRoutes {
		f.Add(uint8(i), "appid=wxAPP&secret=s3cret&js_code=alice.1&grant_type=authorization_code", []byte(`{"user":"alice"}`))
	}
	f.Add(uint8(0), "appid=wxAPP&secret=s3cret&js_code=err40029~x", []byte(nil))
	f.Add(uint8(0), "appid=wxAPP&secret=s3cret&js_code=garbage~x", []byte(nil))
	f.Add(uint8(0), "appid=wxAPP&js_code=a;b%zz", []byte(nil))
	f.Add(uint8(8), "", []byte(`{"user":"alice","kind":"phone","data":{"x":1}}`))
	f.Add(uint8(7), "", []byte(`{"phoneNumber":"+86 138"}`))
	f.Add(uint8(2), "", []byte(`{"grant_type":"client_credential","appid":"wxAPP","secret":"s3cret"}`))
	f.Add(uint8(2), "", []byte(`{"grant_type":"client_credential","appid":"wxAPP","secret":"s3cret","force_refresh":true}`))
	f.Add(uint8(9), "access_token=x&openid=o&signature=s&sig_method=hmac_sha256", []byte(`{"openid":"o"}`))
	f.Add(uint8(10), "access_token=x", []byte(`{"appid":"wxAPP","openid":"o","scene":0,"client_ip":"1.2.3.4"}`))
	f.Add(uint8(11), "", []byte(`{"errcode":40226,"noUnionid":true,"riskRank":3,"stickySessionKey":true}`))
	f.Add(uint8(13), "api=jscode2session&user=alice&since=2026-01-02T03:04:05Z", []byte(nil))
	f.Add(uint8(14), "api=nope&since=x", []byte(nil))
	f.Fuzz(func(t *testing.T, route uint8, query string, body []byte) {
		// slow<ms>~ sleeps for real and drop~ needs a real connection:
		// both are covered by mockwx's own tests.
		if strings.Contains(query, "slow") || strings.Contains(query, "drop") {
			return
		}
		rt := fuzzRoutes[int(route)%len(fuzzRoutes)]
		req, err := http.NewRequest(rt.method, "http://127.0.0.1"+rt.path+"?"+query, bytes.NewReader(body))
		if err != nil {
			return
		}
		rec := httptest.NewRecorder()
		srv.ServeHTTP(rec, req)
		if rec.Code < 200 || rec.Code > 599 {
			t.Fatalf("HTTP %d", rec.Code)
		}
		if strings.Contains(query, "garbage") || strings.Contains(query, "http") {
			return
		}
		if rec.Code == http.StatusNoContent && rec.Body.Len() == 0 {
			return // DELETE helpers
		}
		if !json.Valid(rec.Body.Bytes()) {
			t.Fatalf("%s %s?%s: not JSON: %q", rt.method, rt.path, query, rec.Body)
		}
	})
}
