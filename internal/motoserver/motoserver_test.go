package motoserver

import (
	"context"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iot"
	iottypes "github.com/aws/aws-sdk-go-v2/service/iot/types"
	"github.com/aws/aws-sdk-go-v2/service/iotdataplane"
)

func TestStartServesIoTAndDataPlane(t *testing.T) {
	var endpoint string
	t.Run("server", func(t *testing.T) {
		endpoint = Start(t)
		if !strings.HasPrefix(endpoint, "http://127.0.0.1:") {
			t.Fatalf("endpoint = %q, want a loopback URL", endpoint)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		cfg := AWSConfig(t, endpoint, "eu-west-1")
		ctl := iot.NewFromConfig(cfg)
		data := iotdataplane.NewFromConfig(cfg)

		out, err := ctl.CreateThing(ctx, &iot.CreateThingInput{ThingName: aws.String("t1")})
		if err != nil {
			t.Fatalf("CreateThing: %v", err)
		}
		if want := "arn:aws:iot:eu-west-1:" + AccountID + ":thing/t1"; aws.ToString(out.ThingArn) != want {
			t.Errorf("ThingArn = %q, want %q", aws.ToString(out.ThingArn), want)
		}
		if _, err := data.UpdateThingShadow(ctx, &iotdataplane.UpdateThingShadowInput{
			ThingName: aws.String("t1"),
			Payload:   []byte(`{"state":{"reported":{"on":true}}}`),
		}); err != nil {
			t.Fatalf("UpdateThingShadow: %v", err)
		}
		got, err := data.GetThingShadow(ctx, &iotdataplane.GetThingShadowInput{ThingName: aws.String("t1")})
		if err != nil {
			t.Fatalf("GetThingShadow: %v", err)
		}
		if !strings.Contains(string(got.Payload), `"on": true`) && !strings.Contains(string(got.Payload), `"on":true`) {
			t.Errorf("shadow payload %s lacks the reported state", got.Payload)
		}

		// Regions are separate; Reset wipes all of them.
		if _, err := iot.NewFromConfig(AWSConfig(t, endpoint, "us-east-1")).DescribeThing(ctx,
			&iot.DescribeThingInput{ThingName: aws.String("t1")}); !isNotFound(err) {
			t.Errorf("DescribeThing in another Region: err = %v, want ResourceNotFoundException", err)
		}
		Reset(t, endpoint)
		if _, err := ctl.DescribeThing(ctx, &iot.DescribeThingInput{ThingName: aws.String("t1")}); !isNotFound(err) {
			t.Errorf("DescribeThing after Reset: err = %v, want ResourceNotFoundException", err)
		}
	})
	if endpoint == "" {
		return // skipped
	}
	// The subtest's cleanup has stopped the server: nothing answers any more.
	client := &http.Client{Timeout: 2 * time.Second}
	if resp, err := client.Get(endpoint + "/moto-api/"); err == nil {
		resp.Body.Close()
		t.Errorf("server at %s still answers after cleanup", endpoint)
	}
}

func isNotFound(err error) bool {
	var nf *iottypes.ResourceNotFoundException
	return errors.As(err, &nf)
}

func TestStartTwiceGivesIndependentServers(t *testing.T) {
	a, b := Start(t), Start(t)
	if a == b {
		t.Fatalf("two servers share the endpoint %s", a)
	}
}

func TestCommandHonoursBinaryEnv(t *testing.T) {
	dir := t.TempDir()
	notExec := filepath.Join(dir, "moto_server")
	if err := os.WriteFile(notExec, []byte("#!/bin/sh\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Setenv(BinaryEnv, notExec)
	if _, err := Command(); err == nil || !strings.Contains(err.Error(), BinaryEnv) {
		t.Errorf("Command with a non-executable $%s: err = %v, want an error naming it", BinaryEnv, err)
	}
	if err := os.Chmod(notExec, 0o755); err != nil {
		t.Fatal(err)
	}
	argv, err := Command()
	if err != nil || len(argv) != 1 || argv[0] != notExec {
		t.Errorf("Command = %v, %v; want [%s]", argv, err, notExec)
	}
}

func TestStartFailsOnBrokenBinary(t *testing.T) {
	// A binary that exits at once must be reported quickly, not waited on
	// for the whole start timeout.
	dir := t.TempDir()
	bad := filepath.Join(dir, "moto_server")
	if err := os.WriteFile(bad, []byte("#!/bin/sh\necho boom >&2\nexit 3\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	s, err := start([]string{bad})
	if err == nil {
		_ = s.stop()
		t.Fatal("start of a binary that exits succeeded")
	}
	if !strings.Contains(err.Error(), "exited") || !strings.Contains(err.Error(), "boom") {
		t.Errorf("err = %v, want it to say the process exited and include its output", err)
	}
}

func TestAWSConfig(t *testing.T) {
	cfg := AWSConfig(t, "http://127.0.0.1:1", "eu-central-1")
	if cfg.Region != "eu-central-1" || aws.ToString(cfg.BaseEndpoint) != "http://127.0.0.1:1" {
		t.Errorf("cfg = region %q endpoint %q", cfg.Region, aws.ToString(cfg.BaseEndpoint))
	}
	creds, err := cfg.Credentials.Retrieve(context.Background())
	if err != nil || creds.AccessKeyID == "" || creds.SecretAccessKey == "" {
		t.Errorf("credentials = %+v, %v; want static test credentials", creds, err)
	}
}

func TestTailBufferKeepsTheEnd(t *testing.T) {
	b := &tailBuffer{max: 8}
	for _, s := range []string{"abcdef", "ghijkl", "mn"} {
		if n, err := b.Write([]byte(s)); n != len(s) || err != nil {
			t.Fatalf("Write(%q) = %d, %v", s, n, err)
		}
	}
	if got := b.String(); got != "ghijklmn" {
		t.Errorf("tail = %q, want %q", got, "ghijklmn")
	}
}
