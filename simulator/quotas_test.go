package simulator

import (
	"testing"
	"time"

	"github.com/iot-dr/iot-dr/simulator/registry"
	"github.com/iot-dr/iot-dr/simulator/stepfn"
)

func TestFidelityOptions(t *testing.T) {
	tests := []struct {
		name       string
		f          Fidelity
		wantQuotas bool
		wantMeter  bool
		wantRates  bool
	}{
		{name: "zero is kind", f: Fidelity{}},
		{name: "strict", f: StrictFidelity(42), wantQuotas: true, wantMeter: true},
		{name: "strict with registry rates", f: func() Fidelity { f := StrictFidelity(42); f.RegistryRates = true; return f }(), wantQuotas: true, wantMeter: true, wantRates: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ro := tt.f.Registry("us-east-1", registry.Options{Region: "us-east-1"})
			if ro.DuplicateRate != tt.f.DuplicateRate || ro.ReorderWindow != tt.f.ReorderWindow || (ro.Meter != nil) != tt.wantMeter {
				t.Errorf("registry options %+v", ro)
			}
			if got := tt.f.Registry("us-east-1", registry.Options{Rates: map[string]float64{"CreateThing": 7}}).Rates; got["CreateThing"] != 7 || (got["DescribeThing"] == 350) != tt.wantRates {
				t.Errorf("registry rates %v", got)
			}
			if other := tt.f.Registry("eu-west-1", registry.Options{}); other.Seed == ro.Seed {
				t.Error("both Regions' registries got the same seed")
			}
			so := tt.f.StepFunctions("us-east-1", stepfn.Options{})
			if (so.Quotas != stepfn.Quotas{}) != tt.wantQuotas || (so.Meter != nil) != tt.wantMeter {
				t.Errorf("stepfn options %+v", so)
			}
			if n := len(tt.f.Shadow("us-east-1")); (n > 0) != (tt.wantQuotas || tt.wantMeter) {
				t.Errorf("%d shadow options", n)
			}
			if n := len(tt.f.Rules("us-east-1")); n != 1+map[bool]int{true: 1}[tt.wantMeter] {
				t.Errorf("%d rules options", n)
			}
			if n := len(tt.f.Lambda("us-east-1")) + len(tt.f.Dynamo("us-east-1")); (n > 0) != tt.wantMeter {
				t.Errorf("%d lambda and dynamo options", n)
			}
		})
	}
	if f := StrictFidelity(1); f.DuplicateRate <= 0 || f.ReorderWindow <= 0 || f.ReorderWindow > time.Second {
		t.Errorf("StrictFidelity = %+v", f)
	}
}
