package replication

import (
	"fmt"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iot"
)

// BenchmarkThingCreate measures converging one newly created thing with a
// certificate and a shared policy (the replication benchmark's unit of work),
// against in-process fakes.
func BenchmarkThingCreate(b *testing.B) {
	e := newEnv(b)
	e.addPolicy(b, "device", "devices")
	names := make([]string, b.N)
	for i := range b.N {
		names[i] = fmt.Sprintf("dev-%d", i)
		e.createThing(b, names[i], "", map[string]string{"serial": names[i]})
		_, arn := e.addCert(b)
		e.attachPolicy(b, "device", arn)
		e.attachCert(b, names[i], arn)
	}
	b.ResetTimer()
	for i := range b.N {
		if _, err := e.r.Thing(e.ctx, names[i]); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "things/s")
	b.StopTimer()
	if _, err := e.tgt.DescribeThing(e.ctx, &iot.DescribeThingInput{ThingName: aws.String(names[b.N-1])}); err != nil {
		b.Fatal(err)
	}
}
