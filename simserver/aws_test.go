package simserver

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/iot"
	iottypes "github.com/aws/aws-sdk-go-v2/service/iot/types"

	"github.com/iot-dr/iot-dr/internal/motoserver"
	"github.com/iot-dr/iot-dr/simulator"
)

// awsEnv is an environment for the aws CLI, boto3 and the SDKs that reaches only the
// server: static credentials, no shared config, the endpoint (when set) in
// AWS_ENDPOINT_URL.
func awsEnv(t *testing.T, endpoint string) []string {
	t.Helper()
	dir := t.TempDir()
	env := []string{"AWS_ACCESS_KEY_ID=AKIDSIMULATOR", "AWS_SECRET_ACCESS_KEY=secret", "AWS_DEFAULT_OUTPUT=json", "AWS_PAGER=",
		"AWS_CONFIG_FILE=" + filepath.Join(dir, "config"), "AWS_SHARED_CREDENTIALS_FILE=" + filepath.Join(dir, "credentials"),
		"AWS_EC2_METADATA_DISABLED=true"}
	if endpoint != "" {
		env = append(env, "AWS_ENDPOINT_URL="+endpoint)
	}
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "AWS_") {
			env = append(env, kv)
		}
	}
	return env
}

// cli runs the aws CLI; it returns stdout, stderr and whether it exited 0.
type cli struct {
	t        *testing.T
	bin, url string
	env      []string
}

func (c cli) run(region string, args ...string) (map[string]any, string, bool) {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, c.bin, append([]string{"--endpoint-url", c.url, "--region", region}, args...)...)
	cmd.Env = c.env
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	var v map[string]any
	if len(strings.TrimSpace(string(out))) > 0 {
		if jerr := json.Unmarshal(out, &v); jerr != nil {
			c.t.Fatalf("aws %s: output is not JSON: %v\n%s", strings.Join(args, " "), jerr, out)
		}
	}
	return v, stderr.String(), err == nil
}

func (c cli) must(region string, args ...string) map[string]any {
	c.t.Helper()
	v, stderr, ok := c.run(region, args...)
	if !ok {
		c.t.Fatalf("aws --region %s %s failed: %s", region, strings.Join(args, " "), stderr)
	}
	return v
}

// TestAWSCLI drives a running server with the aws CLI, unmodified: provisioning a
// device in the primary, reading it back in the secondary after replication, a shadow
// across Regions, and AWS's errors.
func TestAWSCLI(t *testing.T) {
	bin := motoserver.Tool(t, "aws")
	s := startServer(t, testConfig(t, 0))
	url := s.Info().AWSEndpointURL
	c := cli{t: t, bin: bin, url: url, env: awsEnv(t, "")}
	p, sec := s.World().Primary.Name, s.World().Secondary.Name

	c.must(p, "iot", "create-thing-type", "--thing-type-name", "cli-type")
	c.must(p, "iot", "create-thing", "--thing-name", "cli-dev", "--thing-type-name", "cli-type", "--attribute-payload", `{"attributes":{"fleet":"cli"}}`)
	keys := c.must(p, "iot", "create-keys-and-certificate", "--set-as-active")
	arn, _ := keys["certificateArn"].(string)
	id, _ := keys["certificateId"].(string)
	if arn == "" || id == "" || !strings.Contains(keys["keyPair"].(map[string]any)["PrivateKey"].(string), "PRIVATE KEY") {
		t.Fatalf("create-keys-and-certificate answered %v", keys)
	}
	c.must(p, "iot", "create-policy", "--policy-name", "cli-policy", "--policy-document",
		`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"iot:*","Resource":"*"}]}`)
	c.must(p, "iot", "attach-policy", "--policy-name", "cli-policy", "--target", arn)
	c.must(p, "iot", "attach-thing-principal", "--thing-name", "cli-dev", "--principal", arn)
	// AWS publishes no registry event for attachments: the pipeline finds them in its
	// bounded re-checks after a thing event, a window that a dozen CLI start-ups (a
	// second each) outlast. A thing update opens a new one, deterministically.
	c.must(p, "iot", "update-thing", "--thing-name", "cli-dev", "--attribute-payload", `{"attributes":{"owner":"cli"},"merge":true}`)
	shadowOut := filepath.Join(t.TempDir(), "shadow.json")
	c.must(p, "iot-data", "update-thing-shadow", "--thing-name", "cli-dev", "--payload", `{"state":{"reported":{"temp":21}}}`, shadowOut)
	if ep := c.must(p, "iot", "describe-endpoint", "--endpoint-type", "iot:Data-ATS"); ep["endpointAddress"] != simulator.PrimaryIP {
		t.Errorf("describe-endpoint answered %v, want %s", ep, simulator.PrimaryIP)
	}

	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := s.World().Settle(ctx); err != nil {
		t.Fatal(err)
	}
	thing := c.must(sec, "iot", "describe-thing", "--thing-name", "cli-dev")
	if thing["thingTypeName"] != "cli-type" || thing["attributes"].(map[string]any)["fleet"] != "cli" {
		t.Errorf("secondary describe-thing: %v", thing)
	}
	cert := c.must(sec, "iot", "describe-certificate", "--certificate-id", id)["certificateDescription"].(map[string]any)
	if cert["status"] != "ACTIVE" || cert["certificatePem"] != keys["certificatePem"] {
		t.Errorf("secondary describe-certificate: %v", cert)
	}
	if pr := c.must(sec, "iot", "list-thing-principals", "--thing-name", "cli-dev"); len(pr["principals"].([]any)) != 1 {
		t.Errorf("secondary list-thing-principals: %v", pr)
	}
	c.must(sec, "iot-data", "get-thing-shadow", "--thing-name", "cli-dev", shadowOut)
	b, err := os.ReadFile(shadowOut)
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		State struct{ Reported map[string]float64 }
	}
	if err := json.Unmarshal(b, &doc); err != nil || doc.State.Reported["temp"] != 21 {
		t.Errorf("secondary shadow %s (%v)", b, err)
	}

	// Errors, as the CLI reports AWS's: "An error occurred (Code) when calling ...".
	// AWS_ENDPOINT_URL instead of --endpoint-url, as the banner suggests, for the SDKs.
	env := cli{t: t, bin: bin, url: url, env: awsEnv(t, url)}
	for _, tc := range []struct {
		args []string
		code string
	}{
		{[]string{"iot", "describe-thing", "--thing-name", "nope"}, "(ResourceNotFoundException)"},
		{[]string{"iot", "create-thing", "--thing-name", "bad name!"}, "(InvalidRequestException)"},
		{[]string{"iot", "delete-certificate", "--certificate-id", id}, "(CertificateStateException)"},
		{[]string{"iot-data", "get-thing-shadow", "--thing-name", "nope", shadowOut}, "(ResourceNotFoundException)"},
	} {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		cmd := exec.CommandContext(ctx, bin, append([]string{"--region", p}, tc.args...)...)
		cmd.Env = env.env
		out, err := cmd.CombinedOutput()
		cancel()
		if err == nil || !strings.Contains(string(out), tc.code) {
			t.Errorf("aws %s: %v, %s; want a failure naming %s", strings.Join(tc.args, " "), err, out, tc.code)
		}
	}
	// The primary down: its APIs answer ServiceUnavailable, the secondary serves.
	callJSON[RegionStatus](t, "POST", s.Info().ControlURL+"/regions/primary/down", 200)
	if _, stderr, ok := c.run(p, "iot", "describe-thing", "--thing-name", "cli-dev", "--cli-read-timeout", "5"); ok || !strings.Contains(stderr, "ServiceUnavailable") {
		t.Errorf("describe-thing in the downed primary: ok=%v %s", ok, stderr)
	}
	c.must(sec, "iot", "describe-thing", "--thing-name", "cli-dev")
}

// TestBoto3 drives a running server with boto3, unmodified.
func TestBoto3(t *testing.T) {
	py := motoserver.Python(t, "boto3")
	s := startServer(t, testConfig(t, 0))
	env := awsEnv(t, s.Info().AWSEndpointURL)
	p, sec := s.World().Primary.Name, s.World().Secondary.Name
	run := func(script string, args ...string) map[string]any {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		cmd := exec.CommandContext(ctx, py, append([]string{"-c", script}, args...)...)
		cmd.Env = env
		var stderr strings.Builder
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("python: %v\n%s", err, stderr.String())
		}
		var v map[string]any
		if err := json.Unmarshal(out, &v); err != nil {
			t.Fatalf("python output %s: %v", out, err)
		}
		return v
	}
	// AWS_ENDPOINT_URL in the environment is all boto3 needs.
	got := run(`
import json, sys, boto3, botocore.exceptions
iot = boto3.client("iot", region_name=sys.argv[1])
data = boto3.client("iot-data", region_name=sys.argv[1])
iot.create_thing(thingName="py-dev", attributePayload={"attributes": {"fleet": "boto3"}})
keys = iot.create_keys_and_certificate(setAsActive=True)
iot.attach_thing_principal(thingName="py-dev", principal=keys["certificateArn"])
data.update_thing_shadow(thingName="py-dev", payload=json.dumps({"state": {"reported": {"temp": 7}}}))
errors = {}
for name, call in [("missing", lambda: iot.describe_thing(thingName="nope")),
                   ("exists", lambda: iot.create_thing(thingName="py-dev", attributePayload={"attributes": {"fleet": "other"}}))]:
    try:
        call()
    except botocore.exceptions.ClientError as e:
        errors[name] = [e.response["Error"]["Code"], e.response["ResponseMetadata"]["HTTPStatusCode"], e.response["Error"]["Message"]]
print(json.dumps({"certificateId": keys["certificateId"], "errors": errors}))
`, p)
	errs := got["errors"].(map[string]any)
	for name, want := range map[string][]any{"missing": {"ResourceNotFoundException", 404.0}, "exists": {"ResourceAlreadyExistsException", 409.0}} {
		e, _ := errs[name].([]any)
		if len(e) != 3 || e[0] != want[0] || e[1] != want[1] || e[2] == "" {
			t.Errorf("%s: boto3 saw %v, want %v with a message", name, e, want)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := s.World().Settle(ctx); err != nil {
		t.Fatal(err)
	}
	// Attaching a certificate raises no registry event: the thing's re-checks capture
	// it, and they last 0.63 s here (ASL time scaled by 0.01), less than three boto3
	// calls on a loaded machine. What they miss, the primary's scheduled sweep carries
	// (POST /sweep runs it now).
	if _, err := s.World().Sweep(ctx, s.World().Primary); err != nil {
		t.Fatal(err)
	}
	if err := s.World().Settle(ctx); err != nil {
		t.Fatal(err)
	}
	read := run(`
import json, sys, boto3
iot = boto3.client("iot", region_name=sys.argv[1])
data = boto3.client("iot-data", region_name=sys.argv[1])
thing = iot.describe_thing(thingName="py-dev")
cert = iot.describe_certificate(certificateId=sys.argv[2])["certificateDescription"]
shadow = json.loads(data.get_thing_shadow(thingName="py-dev")["payload"].read())
print(json.dumps({"fleet": thing["attributes"]["fleet"], "status": cert["status"], "temp": shadow["state"]["reported"]["temp"]}))
`, sec, got["certificateId"].(string))
	if read["fleet"] != "boto3" || read["status"] != "ACTIVE" || read["temp"] != 7.0 {
		t.Errorf("secondary through boto3: %v", read)
	}
}

// TestSDKFromEnvironment: the Go SDK's default configuration picks the endpoint up from
// AWS_ENDPOINT_URL, as the banner says, and the server's errors are the SDK's types.
func TestSDKFromEnvironment(t *testing.T) {
	s := startServer(t, testConfig(t, 1))
	for _, kv := range awsEnv(t, s.Info().AWSEndpointURL) {
		if k, v, _ := strings.Cut(kv, "="); strings.HasPrefix(k, "AWS_") {
			t.Setenv(k, v)
		}
	}
	ctx := context.Background()
	cfg, err := config.LoadDefaultConfig(ctx, config.WithRegion(s.World().Secondary.Name))
	if err != nil {
		t.Fatal(err)
	}
	c := iot.NewFromConfig(cfg)
	out, err := c.DescribeThing(ctx, &iot.DescribeThingInput{ThingName: aws.String("device-0001")})
	if err != nil || aws.ToString(out.ThingName) != "device-0001" {
		t.Fatalf("DescribeThing in the secondary: %v, %v", out, err)
	}
	_, err = c.DescribeThing(ctx, &iot.DescribeThingInput{ThingName: aws.String("nope")})
	var nf *iottypes.ResourceNotFoundException
	if !errors.As(err, &nf) {
		t.Fatalf("missing thing: %v, want ResourceNotFoundException", err)
	}
	var info Info
	b, err := os.ReadFile(filepath.Join(s.Info().Dir, EndpointsFile))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &info); err != nil || info.AWSEndpointURL != s.Info().AWSEndpointURL || info.StackOutputsFile == "" {
		t.Fatalf("endpoints.json %s: aws_endpoint_url or stack_outputs_file missing (%v)", b, err)
	}
}
