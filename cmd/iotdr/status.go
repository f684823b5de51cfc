package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/route53"

	"github.com/iot-dr/iot-dr/functions/spec"
	"github.com/iot-dr/iot-dr/readiness"
	"github.com/iot-dr/iot-dr/simserver"
	"github.com/iot-dr/iot-dr/status"
)

const statusUsage = `usage: iotdr status (--sim URL | --stack-outputs primary.json,secondary.json) [flags]

Shows which Region serves the fleet (the DNS answer of the simulator, or Route 53's
failover rule applied to the health checks of a real deployment), what each Region
still has to apply from the other (the failback catch-up gate's reading: changes in
the batches being applied and the age of the oldest, and apply failures waiting in the
error table) and the conflicts recorded in each Region. Read-only.
Exit status: 0 the fleet is on a healthy primary and nothing is behind, 1 failed over
(or the serving Region unhealthy) or a Region behind or with apply failures waiting,
2 could not read (some of) the status.

flags:
`

func statusCmd(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("status", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(fs.Output(), statusUsage); fs.PrintDefaults() }
	var (
		sim      = fs.String("sim", "", "`URL` of a running `iotdr sim`'s control API (its GET /status)")
		outputs  = fs.String("stack-outputs", "", "`FILES`: `pulumi stack output --json` of both stacks, comma-separated (or one file with both)")
		asJSON   = fs.Bool("json", false, "print the status as one JSON object")
		profile  = fs.String("profile", "", "AWS shared config profile")
		endpoint = fs.String("endpoint-url", "", "send every AWS call to this URL")
		timeout  = fs.Duration("timeout", 30*time.Second, "give up after this long")
	)
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return exitOK
		}
		return exitError
	}
	fail := func(format string, a ...any) int {
		fmt.Fprintf(stderr, "iotdr status: "+format+"\n", a...)
		return exitError
	}
	switch {
	case fs.NArg() > 0:
		return fail("unexpected argument %q", fs.Arg(0))
	case (*sim == "") == (*outputs == ""):
		return fail("pass exactly one of --sim URL and --stack-outputs FILES (see -h)")
	case *timeout <= 0:
		return fail("--timeout must be positive, got %s", *timeout)
	}
	ctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()
	var rep status.Report
	var err error
	if *sim != "" {
		rep, err = simStatus(ctx, *sim)
	} else {
		rep, err = awsStatus(ctx, *outputs, *profile, *endpoint)
	}
	if err != nil {
		return fail("%v", err)
	}
	if *asJSON {
		err = status.WriteJSON(stdout, rep)
	} else {
		err = status.PrintText(stdout, rep)
	}
	if err != nil {
		return fail("%v", err)
	}
	if err := rep.Err(); err != nil {
		fmt.Fprintf(stderr, "iotdr status: %v\n", err)
	}
	return rep.Exit()
}

// simStatus reads GET /status of `iotdr sim`'s control API.
func simStatus(ctx context.Context, base string) (status.Report, error) {
	u, err := url.Parse(strings.TrimRight(base, "/") + "/status")
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return status.Report{}, fmt.Errorf("--sim %q: not an http(s) URL of the control API", base)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return status.Report{}, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return status.Report{}, fmt.Errorf("--sim: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		return status.Report{}, fmt.Errorf("--sim: GET %s: %s: %s", u, resp.Status, strings.TrimSpace(string(b)))
	}
	var st simserver.Status
	if err := json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(&st); err != nil {
		return status.Report{}, fmt.Errorf("--sim: GET %s: not the control API's status: %w", u, err)
	}
	rep := status.Report{Domain: st.Domain, Serving: st.DNSAnswer.Region, From: "dns"}
	for _, r := range st.Regions {
		if r.Name == rep.Serving {
			rep.ServingRole = r.Role
		}
		health := ""
		if r.ProbeFailing {
			health = "probe force-failed"
		}
		rep.Regions = append(rep.Regions, status.Region{Role: r.Role, Name: r.Name, Healthy: r.Healthy, Health: health,
			Backlog: r.Backlog, Conflicts: r.Conflicts, Errors: r.StatusErrors})
	}
	return rep, nil
}

// awsStatus reads a real deployment: Route 53 (from the primary's configuration: a
// global service) and each Region's mark and error tables.
func awsStatus(ctx context.Context, outputs, profile, endpoint string) (status.Report, error) {
	primary, secondary, err := readStackOutputs(outputs)
	if err != nil {
		return status.Report{}, err
	}
	c, err := readiness.FromOutputs(primary, secondary)
	if err != nil {
		return status.Report{}, fmt.Errorf("stack outputs: %w", err)
	}
	var r53 status.Route53
	var sources []status.Source
	for _, r := range []struct {
		region *readiness.Region
		out    map[string]any
	}{{&c.Primary, primary}, {&c.Secondary, secondary}} {
		marks, errs, err := pipelineTables(r.region.Role, r.out)
		if err != nil {
			return status.Report{}, err
		}
		cfg, err := newReadinessAWS(ctx, r.region.Name, profile, endpoint)
		if err != nil {
			return status.Report{}, fmt.Errorf("%s: %w", r.region.Name, err)
		}
		if r53 == nil {
			r53 = route53.NewFromConfig(cfg)
		}
		ddb := dynamodb.NewFromConfig(cfg)
		peer := c.Secondary.Name
		if r.region == &c.Secondary {
			peer = c.Primary.Name
		}
		sources = append(sources, status.Source{Role: r.region.Role, Name: r.region.Name, HealthCheckID: r.region.HealthCheckID,
			Pipeline: status.Pipeline{Region: r.region.Name, Peer: peer, Marks: ddb, MarkTable: marks, Errors: ddb, ErrorTable: errs}})
	}
	return status.Collect(ctx, c.Domain, r53, sources, time.Now()), nil
}

// pipelineTables are a stack's mark and error tables.
func pipelineTables(role string, out map[string]any) (marks, errs string, err error) {
	marks, _ = out[spec.OutputMarkTableName].(string)
	errs, _ = out[spec.OutputErrorTableName].(string)
	for _, o := range []struct{ key, v string }{{spec.OutputMarkTableName, marks}, {spec.OutputErrorTableName, errs}} {
		if strings.TrimSpace(o.v) == "" {
			return "", "", fmt.Errorf("the %s stack has no output %q (deploy it with this version of iot-dr)", role, o.key)
		}
	}
	return marks, errs, nil
}
