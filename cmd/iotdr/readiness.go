package main

import (
	"context"
	"crypto/x509"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/iot"
	"github.com/aws/aws-sdk-go-v2/service/route53"

	"github.com/iot-dr/iot-dr/awsdrill"
	"github.com/iot-dr/iot-dr/readiness"
)

const readinessUsage = `usage: iotdr readiness --stack-outputs primary.json,secondary.json [flags]

Read-only check that a deployment is ready to fail over: in both Regions the domain
configuration is enabled and serves a certificate for the domain valid for at least
--min-days, the health checks exist and are healthy, registry events and fleet
indexing are on where the stack captures, the state table and its replicas are ACTIVE,
the device policy exists and the alarms (replication lag among them) are OK; and
--sample things compare equal. Exit status: 0 ready, 1 not ready, 2 could not check.

flags:
`

// newReadinessAWS builds the AWS clients of one Region; tests replace it.
var newReadinessAWS = func(ctx context.Context, region, profile, endpoint string) (aws.Config, error) {
	// Read-only calls, a few per check: retried past throttling (the indexing
	// configuration's quota is a call a second) rather than failing the check.
	opts := []func(*config.LoadOptions) error{config.WithRetryMaxAttempts(8)}
	if endpoint != "" {
		opts = append(opts, config.WithBaseEndpoint(endpoint))
	}
	return loadAWS(ctx, region, profile, true, opts...)
}

func readinessCmd(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("readiness", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(fs.Output(), readinessUsage); fs.PrintDefaults() }
	var (
		outputs  = fs.String("stack-outputs", "", "`FILES`: `pulumi stack output --json` of both stacks, comma-separated (or one file with both)")
		minDays  = fs.Int("min-days", 30, "the served certificate must be valid for at least this many more days")
		sample   = fs.Int("sample", 10, "compare this many of the primary's things with the secondary (0: none)")
		asJSON   = fs.Bool("json", false, "print the result as one JSON object")
		profile  = fs.String("profile", "", "AWS shared config profile")
		endpoint = fs.String("endpoint-url", "", "send every AWS call to this URL (the aws_endpoint_url of `iotdr sim`)")
		port     = fs.String("tls-port", "443", "port of the IoT endpoints where the served certificate is fetched")
		caFile   = fs.String("ca-file", "", "verify the served certificate against the CA certificates in this PEM file instead of the system's (the ca_file of `iotdr sim`)")
		timeout  = fs.Duration("timeout", 2*time.Minute, "give up after this long")
	)
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return exitOK
		}
		return exitError
	}
	fail := func(format string, a ...any) int {
		fmt.Fprintf(stderr, "iotdr readiness: "+format+"\n", a...)
		return exitError
	}
	switch {
	case fs.NArg() > 0:
		return fail("unexpected argument %q", fs.Arg(0))
	case *minDays < 0:
		return fail("--min-days %d: must not be negative", *minDays)
	case *sample < 0:
		return fail("--sample %d: must not be negative", *sample)
	case *timeout <= 0:
		return fail("--timeout must be positive, got %s", *timeout)
	}
	primary, secondary, err := readStackOutputs(*outputs)
	if err != nil {
		return fail("%v", err)
	}
	c, err := readiness.FromOutputs(primary, secondary)
	if err != nil {
		return fail("stack outputs: %v", err)
	}
	if *caFile != "" {
		pem, err := os.ReadFile(*caFile)
		if err != nil {
			return fail("--ca-file: %v", err)
		}
		c.Roots = x509.NewCertPool()
		if !c.Roots.AppendCertsFromPEM(pem) {
			return fail("--ca-file %s: no PEM certificate in it", *caFile)
		}
	}
	ctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()
	for _, r := range []*readiness.Region{&c.Primary, &c.Secondary} {
		cfg, err := newReadinessAWS(ctx, r.Name, *profile, *endpoint)
		if err != nil {
			return fail("%s: %v", r.Name, err)
		}
		ctl := iot.NewFromConfig(cfg)
		r.IoT, r.Verify = ctl, ctl
		r.DynamoDB, r.CloudWatch = dynamodb.NewFromConfig(cfg), cloudwatch.NewFromConfig(cfg)
		if r == &c.Primary {
			c.Things, c.Route53 = ctl, route53.NewFromConfig(cfg)
		}
	}
	// The health alarms live in us-east-1, wherever the stacks are.
	for _, reg := range c.OtherAlarmRegions() {
		cfg, err := newReadinessAWS(ctx, reg, *profile, *endpoint)
		if err != nil {
			return fail("%s: %v", reg, err)
		}
		if c.CloudWatchIn == nil {
			c.CloudWatchIn = map[string]readiness.CloudWatch{}
		}
		c.CloudWatchIn[reg] = cloudwatch.NewFromConfig(cfg)
	}
	c.Fetch, c.MinDays, c.Sample = readiness.DialCertificate(*port), *minDays, *sample
	rep := c.Run(ctx)
	if *asJSON {
		err = readiness.WriteJSON(stdout, rep)
	} else {
		err = readiness.PrintText(stdout, rep)
	}
	if err != nil {
		return fail("%v", err)
	}
	return rep.Exit()
}

// readStackOutputs reads the --stack-outputs files (comma-separated) of both stacks.
func readStackOutputs(flagValue string) (primary, secondary map[string]any, err error) {
	var paths []string
	for p := range strings.SplitSeq(flagValue, ",") {
		if p = strings.TrimSpace(p); p != "" {
			paths = append(paths, p)
		}
	}
	return awsdrill.ReadOutputs(paths...)
}
