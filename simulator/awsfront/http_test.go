package awsfront_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/iot"
	iottypes "github.com/aws/aws-sdk-go-v2/service/iot/types"
	"github.com/aws/aws-sdk-go-v2/service/iotdataplane"
	datatypes "github.com/aws/aws-sdk-go-v2/service/iotdataplane/types"
	"github.com/aws/aws-sdk-go-v2/service/route53"
	r53types "github.com/aws/aws-sdk-go-v2/service/route53/types"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	ssmtypes "github.com/aws/aws-sdk-go-v2/service/ssm/types"

	"github.com/iot-dr/iot-dr/simulator"
	"github.com/iot-dr/iot-dr/simulator/awsfront"
)

// serveHTTP serves f's AWS endpoint on a loopback port for the test's lifetime.
func serveHTTP(t *testing.T, f *awsfront.Front, o awsfront.HandlerOptions) string {
	t.Helper()
	srv := httptest.NewServer(f.Handler(o))
	t.Cleanup(srv.Close)
	return srv.URL
}

func awsConfig(region string) aws.Config {
	return aws.Config{Region: region, Credentials: credentials.NewStaticCredentialsProvider("AKIDSIMULATOR", "secret", "")}
}

func iotClient(url, region string) *iot.Client {
	return iot.NewFromConfig(awsConfig(region), func(o *iot.Options) {
		o.BaseEndpoint = aws.String(url)
		o.RetryMaxAttempts = 1
	})
}

func dataClient(url, region string) *iotdataplane.Client {
	return iotdataplane.NewFromConfig(awsConfig(region), func(o *iotdataplane.Options) {
		o.BaseEndpoint = aws.String(url)
		o.RetryMaxAttempts = 1
	})
}

// TestSDKProvisionsAndReplicates: the SDK client provisions a device in the primary over
// HTTP (type, thing, keys and certificate, policy, attachments); after replication the
// secondary describes the same resources over HTTP too.
func TestSDKProvisionsAndReplicates(t *testing.T) {
	w, _, f := start(t)
	url := serveHTTP(t, f, awsfront.HandlerOptions{})
	ctx := context.Background()
	p, s := iotClient(url, w.Primary.Name), iotClient(url, w.Secondary.Name)

	must := func(_ any, err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(p.CreateThingType(ctx, &iot.CreateThingTypeInput{ThingTypeName: aws.String("sensor"),
		ThingTypeProperties: &iottypes.ThingTypeProperties{ThingTypeDescription: aws.String("a sensor"), SearchableAttributes: []string{"fleet"}}}))
	must(p.CreateThing(ctx, &iot.CreateThingInput{ThingName: aws.String("dev-1"), ThingTypeName: aws.String("sensor"),
		AttributePayload: &iottypes.AttributePayload{Attributes: map[string]string{"fleet": "http"}}}))
	keys, err := p.CreateKeysAndCertificate(ctx, &iot.CreateKeysAndCertificateInput{SetAsActive: true})
	if err != nil {
		t.Fatal(err)
	}
	if keys.KeyPair == nil || !strings.Contains(aws.ToString(keys.KeyPair.PrivateKey), "PRIVATE KEY") || !strings.HasPrefix(aws.ToString(keys.CertificatePem), "-----BEGIN CERTIFICATE") {
		t.Fatalf("CreateKeysAndCertificate answered %+v", keys)
	}
	must(p.CreatePolicy(ctx, &iot.CreatePolicyInput{PolicyName: aws.String("dev-policy"),
		PolicyDocument: aws.String(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"iot:Connect","Resource":"*"}]}`)}))
	must(p.AttachPolicy(ctx, &iot.AttachPolicyInput{PolicyName: aws.String("dev-policy"), Target: keys.CertificateArn}))
	must(p.AttachThingPrincipal(ctx, &iot.AttachThingPrincipalInput{ThingName: aws.String("dev-1"), Principal: keys.CertificateArn}))
	// AWS publishes no event for attachments; the pipeline's re-checks after a thing
	// event find them, and a slow key generation (-race) can outlast that window. A
	// thing update opens a new one.
	must(p.UpdateThing(ctx, &iot.UpdateThingInput{ThingName: aws.String("dev-1"),
		AttributePayload: &iottypes.AttributePayload{Attributes: map[string]string{"owner": "sdk"}, Merge: true}}))

	desc, err := p.DescribeThing(ctx, &iot.DescribeThingInput{ThingName: aws.String("dev-1")})
	if err != nil {
		t.Fatal(err)
	}
	if aws.ToString(desc.ThingTypeName) != "sensor" || desc.Attributes["fleet"] != "http" || desc.Version != 2 || aws.ToString(desc.ThingArn) == "" {
		t.Fatalf("DescribeThing in the primary: %+v", desc)
	}
	// The pipeline copies the thing on its event and the certificate, policy and
	// attachments on its re-check; Settle waits for all of it.
	if err := w.Settle(ctx); err != nil {
		t.Fatal(err)
	}
	got, err := s.DescribeThing(ctx, &iot.DescribeThingInput{ThingName: aws.String("dev-1")})
	if err != nil {
		t.Fatalf("secondary DescribeThing after replication: %v", err)
	}
	if got.Attributes["fleet"] != "http" || aws.ToString(got.ThingTypeName) != "sensor" {
		t.Fatalf("secondary thing %+v", got)
	}
	cert, err := s.DescribeCertificate(ctx, &iot.DescribeCertificateInput{CertificateId: keys.CertificateId})
	if err != nil {
		t.Fatalf("secondary DescribeCertificate: %v", err)
	}
	if cert.CertificateDescription.Status != iottypes.CertificateStatusActive || aws.ToString(cert.CertificateDescription.CertificatePem) != aws.ToString(keys.CertificatePem) {
		t.Fatalf("secondary certificate %+v", cert.CertificateDescription)
	}
	if cert.CertificateDescription.CreationDate == nil || cert.CertificateDescription.CreationDate.IsZero() {
		t.Fatalf("secondary certificate has no creation date: %+v", cert.CertificateDescription)
	}
	principals, err := s.ListThingPrincipals(ctx, &iot.ListThingPrincipalsInput{ThingName: aws.String("dev-1")})
	if err != nil || len(principals.Principals) != 1 {
		t.Fatalf("secondary principals %v, %v", principals, err)
	}
	pols, err := s.ListAttachedPolicies(ctx, &iot.ListAttachedPoliciesInput{Target: aws.String(principals.Principals[0])})
	if err != nil || len(pols.Policies) != 1 || aws.ToString(pols.Policies[0].PolicyName) != "dev-policy" {
		t.Fatalf("secondary attached policies %v, %v", pols, err)
	}
	// The SDK's paginators work over HTTP.
	var names []string
	pg := iot.NewListThingsPaginator(p, &iot.ListThingsInput{MaxResults: aws.Int32(1)})
	for pg.HasMorePages() {
		out, err := pg.NextPage(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, th := range out.Things {
			names = append(names, aws.ToString(th.ThingName))
		}
	}
	if len(names) != 1 || names[0] != "dev-1" {
		t.Fatalf("ListThings pages: %v", names)
	}
	ep, err := p.DescribeEndpoint(ctx, &iot.DescribeEndpointInput{EndpointType: aws.String("iot:Data-ATS")})
	if err != nil || aws.ToString(ep.EndpointAddress) != simulator.PrimaryIP {
		t.Fatalf("DescribeEndpoint %v, %v; want %s", ep, err, simulator.PrimaryIP)
	}
}

// TestSDKCertificates: CreateCertificateFromCsr, ListCertificates, UpdateCertificate
// and DeleteCertificate over HTTP, with AWS's semantics.
func TestSDKCertificates(t *testing.T) {
	w, _, f := start(t)
	c := iotClient(serveHTTP(t, f, awsfront.HandlerOptions{}), w.Primary.Name)
	ctx := context.Background()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{Subject: pkix.Name{CommonName: "csr-device"}}, key)
	if err != nil {
		t.Fatal(err)
	}
	csr := string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: der}))
	out, err := c.CreateCertificateFromCsr(ctx, &iot.CreateCertificateFromCsrInput{CertificateSigningRequest: aws.String(csr)})
	if err != nil {
		t.Fatal(err)
	}
	block, _ := pem.Decode([]byte(aws.ToString(out.CertificatePem)))
	leaf, err := x509.ParseCertificate(block.Bytes)
	if err != nil || leaf.Subject.CommonName != "csr-device" || !leaf.PublicKey.(*ecdsa.PublicKey).Equal(&key.PublicKey) {
		t.Fatalf("issued certificate %v, %v", leaf, err)
	}
	list, err := c.ListCertificates(ctx, &iot.ListCertificatesInput{})
	if err != nil {
		t.Fatal(err)
	}
	var listed *iottypes.Certificate
	for i, lc := range list.Certificates {
		if aws.ToString(lc.CertificateId) == aws.ToString(out.CertificateId) {
			listed = &list.Certificates[i]
		}
	}
	if listed == nil || listed.Status != iottypes.CertificateStatusInactive || listed.CertificateMode != iottypes.CertificateModeDefault {
		t.Fatalf("ListCertificates does not list %s as an INACTIVE DEFAULT certificate: %+v", aws.ToString(out.CertificateId), list.Certificates)
	}
	if _, err := c.UpdateCertificate(ctx, &iot.UpdateCertificateInput{CertificateId: out.CertificateId, NewStatus: iottypes.CertificateStatusActive}); err != nil {
		t.Fatal(err)
	}
	// An ACTIVE certificate cannot be deleted: CertificateStateException, 406.
	_, err = c.DeleteCertificate(ctx, &iot.DeleteCertificateInput{CertificateId: out.CertificateId})
	var state *iottypes.CertificateStateException
	if !errors.As(err, &state) || httpStatus(err) != http.StatusNotAcceptable {
		t.Fatalf("DeleteCertificate of an ACTIVE certificate: %v (status %d)", err, httpStatus(err))
	}
	if _, err := c.UpdateCertificate(ctx, &iot.UpdateCertificateInput{CertificateId: out.CertificateId, NewStatus: iottypes.CertificateStatusInactive}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.DeleteCertificate(ctx, &iot.DeleteCertificateInput{CertificateId: out.CertificateId}); err != nil {
		t.Fatal(err)
	}
	_, err = c.CreateCertificateFromCsr(ctx, &iot.CreateCertificateFromCsrInput{CertificateSigningRequest: aws.String("not a csr")})
	var inv *iottypes.InvalidRequestException
	if !errors.As(err, &inv) || !strings.Contains(inv.ErrorMessage(), "PEM") {
		t.Fatalf("bad CSR: %v", err)
	}
}

func httpStatus(err error) int {
	var re interface{ HTTPStatusCode() int }
	if errors.As(err, &re) {
		return re.HTTPStatusCode()
	}
	return 0
}

// TestSDKErrors: the fakes' exceptions reach the SDK as its own typed errors, with
// AWS's status codes and members; throttling and a Region outage answer as AWS does.
func TestSDKErrors(t *testing.T) {
	w, _, f := start(t)
	url := serveHTTP(t, f, awsfront.HandlerOptions{Rates: map[string]float64{"DeleteThingShadow": 1}})
	ctx := context.Background()
	c := iotClient(url, w.Primary.Name)
	if _, err := c.CreateThing(ctx, &iot.CreateThingInput{ThingName: aws.String("dup")}); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name   string
		call   func() error
		target any
		status int
		check  func(t *testing.T, err error)
	}{
		{"missing thing", func() error {
			_, err := c.DescribeThing(ctx, &iot.DescribeThingInput{ThingName: aws.String("nope")})
			return err
		}, new(*iottypes.ResourceNotFoundException), 404, nil},
		{"bad thing name", func() error {
			_, err := c.CreateThing(ctx, &iot.CreateThingInput{ThingName: aws.String("bad name!")})
			return err
		}, new(*iottypes.InvalidRequestException), 400, nil},
		{"type that does not exist", func() error {
			_, err := c.CreateThing(ctx, &iot.CreateThingInput{ThingName: aws.String("typed"), ThingTypeName: aws.String("ghost")})
			return err
		}, new(*iottypes.ResourceNotFoundException), 404, nil},
		{"conflicting thing", func() error {
			_, err := c.CreateThing(ctx, &iot.CreateThingInput{ThingName: aws.String("dup"),
				AttributePayload: &iottypes.AttributePayload{Attributes: map[string]string{"a": "b"}}})
			return err
		}, new(*iottypes.ResourceAlreadyExistsException), 409, nil},
		{"missing shadow", func() error {
			_, err := dataClient(url, w.Primary.Name).GetThingShadow(ctx, &iotdataplane.GetThingShadowInput{ThingName: aws.String("dup")})
			return err
		}, new(*datatypes.ResourceNotFoundException), 404, nil},
		{"named shadow", func() error {
			_, err := dataClient(url, w.Primary.Name).GetThingShadow(ctx, &iotdataplane.GetThingShadowInput{ThingName: aws.String("dup"), ShadowName: aws.String("cfg")})
			return err
		}, new(*datatypes.ResourceNotFoundException), 404, func(t *testing.T, err error) {
			if !strings.Contains(err.Error(), "dup~cfg") {
				t.Errorf("message %q does not name dup~cfg", err)
			}
		}},
		{"bad shadow document", func() error {
			_, err := dataClient(url, w.Primary.Name).UpdateThingShadow(ctx, &iotdataplane.UpdateThingShadowInput{ThingName: aws.String("dup"), Payload: []byte(`{"state":`)})
			return err
		}, new(*datatypes.InvalidRequestException), 400, nil},
		{"missing SSM parameter", func() error {
			c := ssm.NewFromConfig(awsConfig(w.Primary.Name), func(o *ssm.Options) { o.BaseEndpoint = aws.String(url) })
			_, err := c.GetParameter(ctx, &ssm.GetParameterInput{Name: aws.String("/nope")})
			return err
		}, new(*ssmtypes.ParameterNotFound), 400, nil},
		{"missing health check", func() error {
			c := route53.NewFromConfig(awsConfig("us-east-1"), func(o *route53.Options) { o.BaseEndpoint = aws.String(url) })
			_, err := c.GetHealthCheck(ctx, &route53.GetHealthCheckInput{HealthCheckId: aws.String("nope")})
			return err
		}, new(*r53types.NoSuchHealthCheck), 404, nil},
		{"missing hosted zone", func() error {
			c := route53.NewFromConfig(awsConfig("us-east-1"), func(o *route53.Options) { o.BaseEndpoint = aws.String(url) })
			_, err := c.ListResourceRecordSets(ctx, &route53.ListResourceRecordSetsInput{HostedZoneId: aws.String("ZNOPE")})
			return err
		}, new(*r53types.NoSuchHostedZone), 404, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.call()
			if err == nil {
				t.Fatal("no error")
			}
			if !errors.As(err, tc.target) {
				t.Fatalf("error %T %v, want %T", err, err, tc.target)
			}
			if got := httpStatus(err); got != tc.status {
				t.Fatalf("HTTP status %d, want %d (%v)", got, tc.status, err)
			}
			if tc.check != nil {
				tc.check(t, err)
			}
		})
	}

	t.Run("already exists carries its id", func(t *testing.T) {
		if _, err := c.CreatePolicy(ctx, &iot.CreatePolicyInput{PolicyName: aws.String("p"), PolicyDocument: aws.String(`{"Version":"2012-10-17","Statement":[]}`)}); err != nil {
			t.Fatal(err)
		}
		_, err := c.CreatePolicy(ctx, &iot.CreatePolicyInput{PolicyName: aws.String("p"), PolicyDocument: aws.String(`{"Version":"2012-10-17","Statement":[]}`)})
		var ex *iottypes.ResourceAlreadyExistsException
		if !errors.As(err, &ex) || httpStatus(err) != 409 || aws.ToString(ex.ResourceId) != "p" || aws.ToString(ex.ResourceArn) == "" {
			t.Fatalf("%v (status %d), want ResourceAlreadyExistsException 409 with resourceId and resourceArn", err, httpStatus(err))
		}
	})
	t.Run("throttled", func(t *testing.T) {
		data := dataClient(url, w.Primary.Name)
		var throttled error
		for range 5 {
			if _, err := data.DeleteThingShadow(ctx, &iotdataplane.DeleteThingShadowInput{ThingName: aws.String("dup")}); err != nil {
				var th *datatypes.ThrottlingException
				if errors.As(err, &th) {
					throttled = err
					break
				}
			}
		}
		if throttled == nil || httpStatus(throttled) != 429 {
			t.Fatalf("5 DeleteThingShadow calls at 1 TPS: no ThrottlingException 429 (%v)", throttled)
		}
		w.Primary.Registry.SetRate("DescribeThing", 1)
		t.Cleanup(func() { w.Primary.Registry.SetRate("DescribeThing", 0) })
		var last error
		for range 5 {
			if _, last = c.DescribeThing(ctx, &iot.DescribeThingInput{ThingName: aws.String("dup")}); last != nil {
				break
			}
		}
		var th *iottypes.ThrottlingException
		if !errors.As(last, &th) || httpStatus(last) != 429 {
			t.Fatalf("5 DescribeThing calls at 1 TPS: %v, want ThrottlingException 429", last)
		}
	})
	t.Run("region down", func(t *testing.T) {
		w.SetRegionDown(w.Primary, true)
		t.Cleanup(func() { w.SetRegionDown(w.Primary, false) })
		_, err := c.DescribeThing(ctx, &iot.DescribeThingInput{ThingName: aws.String("dup")})
		var su *iottypes.ServiceUnavailableException
		if !errors.As(err, &su) || httpStatus(err) != 503 {
			t.Fatalf("control plane while down: %v, want ServiceUnavailableException 503", err)
		}
		_, err = dataClient(url, w.Primary.Name).GetThingShadow(ctx, &iotdataplane.GetThingShadowInput{ThingName: aws.String("dup")})
		var dsu *datatypes.ServiceUnavailableException
		if !errors.As(err, &dsu) || httpStatus(err) != 503 {
			t.Fatalf("data plane while down: %v, want ServiceUnavailableException 503", err)
		}
		if _, err := iotClient(url, w.Secondary.Name).ListThings(ctx, &iot.ListThingsInput{}); err != nil {
			t.Fatalf("the secondary while the primary is down: %v", err)
		}
	})
}

// TestSDKShadowAcrossRegions: a shadow updated over HTTP in the primary is read back
// over HTTP in the secondary once replicated.
func TestSDKShadowAcrossRegions(t *testing.T) {
	w, _, f := start(t)
	url := serveHTTP(t, f, awsfront.HandlerOptions{})
	ctx := context.Background()
	if _, err := w.ProvisionDevice(ctx, simulator.Device{Thing: "shadowed"}); err != nil {
		t.Fatal(err)
	}
	up, err := dataClient(url, w.Primary.Name).UpdateThingShadow(ctx, &iotdataplane.UpdateThingShadowInput{
		ThingName: aws.String("shadowed"), Payload: []byte(`{"state":{"reported":{"temp":21}}}`)})
	if err != nil {
		t.Fatal(err)
	}
	var accepted struct{ Version int }
	if err := json.Unmarshal(up.Payload, &accepted); err != nil || accepted.Version != 1 {
		t.Fatalf("update/accepted %s, %v", up.Payload, err)
	}
	if err := w.Settle(ctx); err != nil {
		t.Fatal(err)
	}
	got, err := dataClient(url, w.Secondary.Name).GetThingShadow(ctx, &iotdataplane.GetThingShadowInput{ThingName: aws.String("shadowed")})
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		State struct{ Reported map[string]float64 }
	}
	if err := json.Unmarshal(got.Payload, &doc); err != nil || doc.State.Reported["temp"] != 21 {
		t.Fatalf("secondary shadow %s, %v", got.Payload, err)
	}
	if _, err := dataClient(url, w.Secondary.Name).DeleteThingShadow(ctx, &iotdataplane.DeleteThingShadowInput{ThingName: aws.String("shadowed")}); err != nil {
		t.Fatal(err)
	}
}

// TestBadRequests: requests the SDKs would never send get AWS-shaped 4xx answers with
// a message naming what was wrong, and the server keeps serving.
func TestBadRequests(t *testing.T) {
	w, _, f := start(t)
	url := serveHTTP(t, f, awsfront.HandlerOptions{})
	auth := func(region, service string) string {
		return "AWS4-HMAC-SHA256 Credential=AKID/20260101/" + region + "/" + service + "/aws4_request, SignedHeaders=host, Signature=00"
	}
	primary := w.Primary.Name
	tests := []struct {
		name, method, path, auth, body string
		status                         int
		code, msg                      string
	}{
		{"no signature", "GET", "/things", "", "", 403, "MissingAuthenticationTokenException", "Missing Authentication Token"},
		{"SigV2", "GET", "/things", "AWS AKID:sig", "", 400, "IncompleteSignatureException", "SigV4"},
		{"no Region in the scope", "GET", "/things", "AWS4-HMAC-SHA256 Credential=AKID/20260101//iot/aws4_request", "", 400, "IncompleteSignatureException", "names no Region"},
		{"short scope", "GET", "/things", "AWS4-HMAC-SHA256 Credential=AKID/20260101/iot", "", 400, "IncompleteSignatureException", "AKID/date/region/service"},
		{"unknown Region", "GET", "/things", auth("ap-south-9", "iot"), "", 403, "InvalidSignatureException", "ap-south-9"},
		{"unknown service", "GET", "/", auth(primary, "s3"), "", 400, "UnknownOperationException", `"s3"`},
		{"unknown operation", "GET", "/no-such-thing/x", auth(primary, "iot"), "", 404, "UnknownOperationException", "/no-such-thing/x"},
		{"wrong method", "PUT", "/things/x", auth(primary, "iot"), "", 405, "MethodNotAllowedException", "DELETE, GET, PATCH, POST"},
		{"malformed JSON", "POST", "/things/x", auth(primary, "iot"), `{"thingTypeName":`, 400, "InvalidRequestException", "not valid JSON"},
		{"body not an object", "POST", "/things/x", auth(primary, "iot"), `[1]`, 400, "InvalidRequestException", "JSON object"},
		{"member of the wrong type", "POST", "/things/x", auth(primary, "iot"), `{"attributePayload":{"attributes":{"a":1}}}`, 400, "InvalidRequestException", "attributePayload.attributes.a: expected a string"},
		{"bad query integer", "GET", "/things?maxResults=lots", auth(primary, "iot"), "", 400, "InvalidRequestException", "maxResults"},
		{"oversized body", "POST", "/things/x", auth(primary, "iot"), `{"a":"` + strings.Repeat("x", awsfront.MaxRequestBytes) + `"}`, 413, "RequestEntityTooLargeException", "larger than"},
		{"unknown shadow path", "GET", "/things/x/shadows", auth(primary, "iotdata"), "", 404, "UnknownOperationException", "/things/{thingName}/shadow"},
		{"SSM without a target", "POST", "/", auth(primary, "ssm"), "{}", 400, "UnknownOperationException", "X-Amz-Target"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			req, err := http.NewRequest(tc.method, url+tc.path, strings.NewReader(tc.body))
			if err != nil {
				t.Fatal(err)
			}
			if tc.auth != "" {
				req.Header.Set("Authorization", tc.auth)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			b, _ := io.ReadAll(resp.Body)
			var body struct{ Message string }
			if err := json.Unmarshal(b, &body); err != nil {
				t.Fatalf("answer %s is not JSON: %v", b, err)
			}
			if resp.StatusCode != tc.status || resp.Header.Get("X-Amzn-Errortype") != tc.code || !strings.Contains(body.Message, tc.msg) {
				t.Fatalf("answer %d %s %q; want %d %s with %q", resp.StatusCode, resp.Header.Get("X-Amzn-Errortype"), body.Message, tc.status, tc.code, tc.msg)
			}
		})
	}
	// A shadow path signed for iot is the data plane's.
	req, err := http.NewRequest("GET", url+"/things/nope/shadow", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", auth(primary, "iot"))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 404 || resp.Header.Get("X-Amzn-Errortype") != "ResourceNotFoundException" {
		t.Fatalf("GetThingShadow signed for iot: %d %s", resp.StatusCode, resp.Header.Get("X-Amzn-Errortype"))
	}
	// Still serving, and a presigned-style credential works too.
	resp, err = http.Get(url + "/things?X-Amz-Credential=AKID%2F20260101%2F" + primary + "%2Fiot%2Faws4_request")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("presigned ListThings: %d", resp.StatusCode)
	}
}
