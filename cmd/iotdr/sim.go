package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"math"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/iot-dr/iot-dr/functions/spec"
	"github.com/iot-dr/iot-dr/simserver"
	"github.com/iot-dr/iot-dr/simulator"
)

// simCmd runs the two-Region simulator as a standalone server until ctx is cancelled.
func simCmd(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("sim", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprint(stderr, "usage: iotdr sim [flags]\n\nRuns the two-Region simulator until interrupted, for ordinary MQTT clients and a loopback control API.\n\n")
		fs.PrintDefaults()
	}
	cfg, def := simserver.DefaultConfig(), simserver.DefaultConfig()
	verbose := fs.Bool("verbose", false, "log the simulator's info messages (refusals, health flips) on stderr")
	fs.IntVar(&cfg.Devices, "devices", def.Devices, "replicated devices to provision (plus one registered in the primary only)")
	fs.StringVar(&cfg.Dir, "dir", "", "directory for ca.pem, the devices' certificates and keys and endpoints.json (default: a temporary directory, removed on exit)")
	fs.StringVar(&cfg.Listen, "listen", def.Listen, "control API address (loopback only)")
	fs.DurationVar(&cfg.Interval, "interval", def.Interval, "health-check request interval")
	fs.IntVar(&cfg.Threshold, "threshold", def.Threshold, "health-check failure threshold (1-10)")
	fs.DurationVar(&cfg.TTL, "ttl", def.TTL, "failover records' TTL")
	fs.DurationVar(&cfg.ReplicationDelay, "replication-delay", def.ReplicationDelay, "global-table replication delay")
	fs.StringVar(&cfg.AWSListen, "aws-listen", def.AWSListen, "AWS API endpoint address (loopback only), for the aws CLI and the SDKs")
	fs.Var(simRateFlag(cfg.APIRates), "rate", "set one API's rate limit in both Regions, API=TPS (0: unlimited; repeatable; default AWS's quotas)")
	noLimits := fs.Bool("no-rate-limits", false, "no API rate limits at all (benchmarks, bulk provisioning)")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return exitOK
		}
		return exitError
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "iotdr sim: unexpected argument %q\n", fs.Arg(0))
		return exitError
	}
	if *noLimits {
		cfg.APIRates = nil
	}
	check := cfg
	if check.Dir == "" {
		check.Dir = os.TempDir() // a placeholder: the temporary directory is made once the flags are valid
	}
	if err := check.Validate(); err != nil {
		fmt.Fprintf(stderr, "iotdr sim: %v\n", err)
		return exitError
	}
	level := slog.LevelWarn
	if *verbose {
		level = slog.LevelInfo
	}
	cfg.Logger = slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))
	temp := cfg.Dir == ""
	if temp {
		dir, err := os.MkdirTemp("", "iotdr-sim-")
		if err != nil {
			fmt.Fprintf(stderr, "iotdr sim: %v\n", err)
			return exitError
		}
		// The keys are throw-away, but they should not pile up in the temp directory.
		defer os.RemoveAll(dir)
		cfg.Dir = dir
	}

	fmt.Fprintf(stderr, "iotdr sim: starting two Regions, provisioning %d devices...\n", cfg.Devices)
	srv, err := simserver.Start(ctx, cfg)
	if err != nil {
		if ctx.Err() != nil {
			fmt.Fprintln(stderr, "iotdr sim: interrupted while starting")
			return exitOK
		}
		fmt.Fprintf(stderr, "iotdr sim: %v\n", err)
		return exitError
	}
	printSim(stdout, srv.Info(), temp, cfg)
	fmt.Fprintln(stderr, "iotdr sim: ready (Ctrl-C to stop)")
	<-ctx.Done()
	fmt.Fprintln(stderr, "iotdr sim: stopping")
	if err := srv.Close(); err != nil {
		fmt.Fprintf(stderr, "iotdr sim: %v\n", err)
		return exitError
	}
	fmt.Fprintln(stderr, "iotdr sim: stopped")
	return exitOK
}

// simRateFlag parses repeated --rate API=TPS into the simulator's rate table.
type simRateFlag map[string]float64

func (r simRateFlag) String() string { return "" }

func (r simRateFlag) Set(v string) error {
	api, val, ok := strings.Cut(v, "=")
	api, val = strings.TrimSpace(api), strings.TrimSpace(val)
	if !ok || api == "" || val == "" {
		return fmt.Errorf("%q: want API=TPS, e.g. CreateThing=50", v)
	}
	if _, known := simserver.DefaultAPIRates()[api]; !known {
		return fmt.Errorf("%q: unknown API %q (one of %s)", v, api, strings.Join(slices.Sorted(maps.Keys(simserver.DefaultAPIRates())), ", "))
	}
	tps, err := strconv.ParseFloat(val, 64)
	if err != nil || math.IsNaN(tps) || math.IsInf(tps, 0) || tps < 0 {
		return fmt.Errorf("%q: TPS must be a number, 0 (unlimited) or more", v)
	}
	r[api] = tps
	return nil
}

// printSim prints what a user needs to point an MQTT client at the simulator.
func printSim(w io.Writer, info simserver.Info, temp bool, cfg simserver.Config) {
	fmt.Fprintln(w, "iot-dr simulator: two Regions, MQTT over TLS with client certificates")
	fmt.Fprintln(w)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	for _, r := range info.Regions {
		fmt.Fprintf(tw, "%s\t%s  mqtts://%s  (server name %s)\n", r.Role, r.Name, r.Endpoint, r.EndpointName)
	}
	fmt.Fprintf(tw, "custom domain\t%s  (failover A record, TTL %v)\n", info.Domain, cfg.TTL)
	fmt.Fprintf(tw, "DNS server\t%s  (UDP and TCP; wire TTLs count units of %v)\n", info.DNSServer, simulator.TTLUnit)
	fmt.Fprintf(tw, "control API\t%s  (GET / lists the routes)\n", info.ControlURL)
	fmt.Fprintf(tw, "AWS APIs\t%s  (IoT, IoT data plane, Route 53, SSM for both Regions; the Region comes from the request's signature)\n", info.AWSEndpointURL)
	note := ""
	if temp {
		note = "  (temporary: removed on exit; use --dir to keep the files)"
	}
	fmt.Fprintf(tw, "files\t%s%s\n", info.Dir, note)
	fmt.Fprintf(tw, "  CA certificate\t%s\n", info.CAFile)
	fmt.Fprintf(tw, "  endpoints\t%s\n", filepath.Join(info.Dir, simserver.EndpointsFile))
	fmt.Fprintf(tw, "  stack outputs\t%s  (for iotdr drill --aws --endpoint-url)\n", info.StackOutputsFile)
	tw.Flush()
	fmt.Fprintln(w)
	fmt.Fprintln(w, "devices (certificate and key in the files directory as <thing>.crt.pem, <thing>.key.pem):")
	var replicated, unreplicated *simserver.DeviceInfo
	for i, d := range info.Devices {
		where := "registered in both Regions"
		switch {
		case !d.Replicated:
			where = "certificate registered in the primary only: the secondary refuses it"
			unreplicated = &info.Devices[i]
		case replicated == nil:
			replicated = &info.Devices[i]
		}
		fmt.Fprintf(w, "  %-20s %s\n", d.Thing, where)
	}
	primary, secondary := info.Regions[0], info.Regions[1]
	fmt.Fprintln(w)
	fmt.Fprintln(w, "Use the aws CLI, boto3 or an AWS SDK unmodified: any access key and secret work (signatures are not")
	fmt.Fprintf(w, "checked) and the Region chooses the simulated Region (%s primary, %s secondary).\n", primary.Name, secondary.Name)
	fmt.Fprintf(w, "\n  export AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test\n")
	fmt.Fprintf(w, "  aws --endpoint-url %s --region %s iot create-thing --thing-name my-thing\n", info.AWSEndpointURL, primary.Name)
	fmt.Fprintf(w, "  aws --endpoint-url %s --region %s iot describe-thing --thing-name my-thing   # replicated\n", info.AWSEndpointURL, secondary.Name)
	fmt.Fprintf(w, "\n  # the SDKs (and the aws CLI) take the endpoint from the environment\n  export AWS_ENDPOINT_URL=%s AWS_REGION=%s\n", info.AWSEndpointURL, primary.Name)
	client := func(d *simserver.DeviceInfo, r simserver.RegionInfo) string {
		host, port, _ := net.SplitHostPort(r.Endpoint)
		return fmt.Sprintf("--cafile %s --cert %s --key %s -h %s -p %s -i %s", info.CAFile, d.CertFile, d.KeyFile, host, port, d.Thing)
	}
	fmt.Fprintln(w)
	fmt.Fprintln(w, "Try it with mosquitto-clients. The client id must be the thing's name, and each device may")
	fmt.Fprintln(w, "use only its own topics (devices/<thing>/... and its shadow), one session at a time.")
	if d := replicated; d != nil {
		topic := spec.TelemetryTopic(d.Thing)
		fmt.Fprintf(w, "\n  # publish telemetry to the primary\n  mosquitto_pub %s -q 1 -t %s -m '{\"temp\":21}'\n", client(d, primary), topic)
		fmt.Fprintf(w, "\n  # subscribe to its own topics (leave running; a second session as %s takes it over)\n  mosquitto_sub %s -q 1 -t 'devices/%s/#' -v\n", d.Thing, client(d, primary), d.Thing)
		fmt.Fprintf(w, "\n  # publish and receive its own message on one session (MQTT 5)\n  mosquitto_rr %s -t %s -e %s -m '{\"temp\":21}'\n", client(d, primary), topic, topic)
		fmt.Fprintf(w, "\n  # take the primary down, then publish to the secondary with the same certificate\n  curl -X POST %s/regions/primary/down\n  mosquitto_pub %s -q 1 -t %s -m '{\"temp\":22}'\n  curl -X POST %s/regions/primary/up\n",
			info.ControlURL, client(d, secondary), topic, info.ControlURL)
	}
	if d := unreplicated; d != nil {
		fmt.Fprintf(w, "\n  # the unreplicated device is refused by the secondary (and accepted by the primary)\n  mosquitto_pub %s -q 1 -t %s -m hello\n  curl %s/regions/secondary/refusals\n",
			client(d, secondary), spec.TelemetryTopic(d.Thing), info.ControlURL)
	}
}
