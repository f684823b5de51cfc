package awsfront_test

import (
	"encoding/json"
	"encoding/xml"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/iot-dr/iot-dr/simulator/awsfront"
)

// FuzzHandler feeds the endpoint arbitrary methods, paths, queries and bodies for every
// service: it must never panic, and whatever it refuses it refuses in AWS's shape (an
// error code header and a JSON or XML body with the message).
func FuzzHandler(f *testing.F) {
	w, _, front := start(f)
	h := front.Handler(awsfront.HandlerOptions{})
	for _, seed := range []struct {
		service, method, target, body string
	}{
		{"iot", "POST", "/things/a", `{"thingTypeName":"x","attributePayload":{"attributes":{"k":"v"},"merge":true}}`},
		{"iot", "GET", "/things?maxResults=2&nextToken=zz", ""},
		{"iot", "PATCH", "/things/a", `{"expectedVersion":"x"}`},
		{"iot", "POST", "/keys-and-certificate?setAsActive=true", ""},
		{"iot", "POST", "/attached-policies/arn%3Aaws%3Aiot%3Aus-east-1%3A1%3Acert%2Fab", `{"recursive":true}`},
		{"iot", "PUT", "/thing-groups/addThingToThingGroup", `{"thingName":"a","thingGroupName":"g"}`},
		{"iot", "POST", "/thing-types/t", `{"thingTypeProperties":{"searchableAttributes":[1,2]}}`},
		{"iotdata", "POST", "/things/a/shadow?name=n", `{"state":{"desired":{"a":[1,{"b":null}]}}}`},
		{"iotdata", "GET", "/things/%zz/shadow", ""},
		{"ssm", "POST", "/", `{"Name":"/x","Value":"1","Overwrite":true}`},
		{"route53", "GET", "/2013-04-01/hostedzone/Z/rrset?maxitems=-1", ""},
		{"route53", "GET", "/2013-04-01/testdnsanswer?recordtype=A&recordname=iot.iotdr.test", ""},
	} {
		f.Add(seed.service, seed.method, seed.target, seed.body)
	}
	region := w.Primary.Name
	f.Fuzz(func(t *testing.T, service, method, target, body string) {
		if !strings.HasPrefix(target, "/") {
			target = "/" + target
		}
		req, err := http.NewRequest(method, "http://sim"+target, strings.NewReader(body))
		if err != nil {
			t.Skip() // not a request a client could send
		}
		req.Header.Set("Authorization", "AWS4-HMAC-SHA256 Credential=AKID/20260101/"+region+"/"+service+"/aws4_request, SignedHeaders=host, Signature=0")
		if service == "ssm" {
			req.Header.Set("X-Amz-Target", "AmazonSSM.PutParameter")
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code < 400 {
			return
		}
		if service == "route53" {
			var e struct {
				Error struct{ Code, Message string }
			}
			if err := xml.Unmarshal(rec.Body.Bytes(), &e); err != nil || e.Error.Code == "" || e.Error.Message == "" {
				t.Fatalf("%s %s: Route 53 error without its XML shape: %s", method, target, rec.Body)
			}
			return
		}
		code := rec.Header().Get("X-Amzn-Errortype")
		if code == "" {
			t.Fatalf("%s %s (%s): status %d without an error code: %s", method, target, service, rec.Code, rec.Body)
		}
		var e struct{ Message string }
		if err := json.Unmarshal(rec.Body.Bytes(), &e); err != nil || e.Message == "" {
			t.Fatalf("%s %s (%s): error %s without a JSON message: %s", method, target, service, code, rec.Body)
		}
	})
}
