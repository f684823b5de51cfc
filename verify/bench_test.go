package verify_test

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"os"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iot"
	"github.com/aws/aws-sdk-go-v2/service/iotdataplane"

	"github.com/iot-dr/iot-dr/simulator/registry"
	"github.com/iot-dr/iot-dr/simulator/shadow"
	"github.com/iot-dr/iot-dr/verify"
)

// discard stands in for the broker: the benchmark reads shadows over the API only.
type discard struct{}

func (discard) Publish(string, []byte, byte) error { return nil }

// BenchmarkVerifyMemory verifies b.N things (one op = one thing), each with two
// named shadows, between two equal Regions of simulator fakes (registry and shadow
// service, in this process), and reports the process's peak RSS while verify runs
// (peak-RSS-MiB, the fakes' own memory included), the RSS before it
// (baseline-RSS-MiB: the fakes) and what verify added at its peak (verify-RSS-MiB):
// the last must not grow with the fleet. The fakes share
// the process, so the GC's headroom would grow with them (GOGC doubles the heap of
// the fakes, not of verify): verify runs with a soft memory limit of the baseline RSS
// plus memoryHeadroom and the GC otherwise off, so the RSS it adds is what it needs,
// and a verify that needed more would exceed the limit and show it. Linux only (it
// reads and resets /proc/self's peak).
// Run with e.g. -bench=VerifyMemory -benchtime=100000x.
func BenchmarkVerifyMemory(b *testing.B) {
	if _, err := os.Stat("/proc/self/clear_refs"); err != nil {
		b.Skip("needs Linux /proc to measure peak RSS")
	}
	ctx := context.Background()
	regions := [2]struct {
		reg *registry.Registry
		sh  *shadow.Service
	}{}
	for i, name := range []string{"us-east-1", "eu-west-1"} {
		regions[i].reg = registry.New(registry.Options{Region: name, AccountID: "123456789012"})
		regions[i].sh = shadow.New(discard{})
	}
	for _, r := range regions {
		for i := range b.N {
			thing := fmt.Sprintf("dev-%06d", i)
			if _, err := r.reg.CreateThing(ctx, &iot.CreateThingInput{ThingName: aws.String(thing)}); err != nil {
				b.Fatal(err)
			}
			for _, s := range []string{"config", "firmware"} {
				if _, err := r.sh.UpdateThingShadow(ctx, &iotdataplane.UpdateThingShadowInput{ThingName: aws.String(thing), ShadowName: aws.String(s),
					Payload: fmt.Appendf(nil, `{"state":{"desired":{"interval":%d},"reported":{"interval":%d,"fw":"1.2.%d"}}}`, i%60, i%60, i%9)}); err != nil {
					b.Fatal(err)
				}
			}
		}
	}
	c := &verify.Comparer{
		Source: regions[0].reg, Target: regions[1].reg, SourceShadows: regions[0].sh, TargetShadows: regions[1].sh,
		SourceRegion: "us-east-1", TargetRegion: "eu-west-1", Shadows: true,
	}
	// The registry fake sorts its names on the first list call: the fakes' memory,
	// made before the baseline.
	for _, r := range regions {
		if _, err := r.reg.ListThings(ctx, &iot.ListThingsInput{MaxResults: aws.Int32(1)}); err != nil {
			b.Fatal(err)
		}
	}
	runtime.GC()
	debug.FreeOSMemory()
	defer debug.SetGCPercent(debug.SetGCPercent(-1))
	if err := os.WriteFile("/proc/self/clear_refs", []byte("5"), 0); err != nil {
		b.Skipf("cannot reset the peak RSS: %v", err)
	}
	baseRSS := procStatus(b, "VmRSS")
	defer debug.SetMemoryLimit(debug.SetMemoryLimit(int64(baseRSS) + memoryHeadroom))
	b.ResetTimer()
	diffs := 0
	rep, err := c.Run(ctx, verify.RunOptions{OnDifference: func(verify.Difference) { diffs++ }})
	b.StopTimer()
	if err != nil {
		b.Fatal(err)
	}
	if rep.Things != b.N || diffs != 0 {
		b.Fatalf("verified %d things with %d differences, want %d and 0", rep.Things, diffs, b.N)
	}
	peakRSS := procStatus(b, "VmHWM")
	const mib = 1 << 20
	b.ReportMetric(float64(peakRSS)/mib, "peak-RSS-MiB")
	b.ReportMetric(float64(baseRSS)/mib, "baseline-RSS-MiB")
	b.ReportMetric(float64(peakRSS-min(peakRSS, baseRSS))/mib, "verify-RSS-MiB")
	b.ReportMetric(float64(memoryHeadroom)/mib, "headroom-MiB")
}

// memoryHeadroom is the soft memory limit above the fakes' RSS verify runs under.
const memoryHeadroom = 64 << 20

// procStatus returns a "kB" field of /proc/self/status in bytes.
func procStatus(b *testing.B, field string) uint64 {
	b.Helper()
	raw, err := os.ReadFile("/proc/self/status")
	if err != nil {
		b.Fatal(err)
	}
	sc := bufio.NewScanner(bytes.NewReader(raw))
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), field+":"); ok {
			kb, err := strconv.ParseUint(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
			if err != nil {
				b.Fatalf("%s: %v", field, err)
			}
			return kb << 10
		}
	}
	b.Fatalf("no %s in /proc/self/status", field)
	return 0
}
