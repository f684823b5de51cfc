package billing_test

import (
	"testing"

	"github.com/iot-dr/iot-dr/simulator/billing"
	"github.com/iot-dr/iot-dr/simulator/dynamo"
	"github.com/iot-dr/iot-dr/simulator/lambdart"
	"github.com/iot-dr/iot-dr/simulator/registry"
	"github.com/iot-dr/iot-dr/simulator/rules"
	"github.com/iot-dr/iot-dr/simulator/shadow"
	"github.com/iot-dr/iot-dr/simulator/stepfn"
)

// The fakes spell the operation names themselves (they do not import
// billing); every name they meter must be priced.
func TestFakesMeterPricedOperations(t *testing.T) {
	tests := []struct {
		fake, name, want string
	}{
		{"stepfn", stepfn.MeterStateTransitions, billing.OpStepFunctionsTransitions},
		{"lambdart", lambdart.MeterRequests, billing.OpLambdaRequests},
		{"lambdart", lambdart.MeterGBSeconds, billing.OpLambdaGBSeconds},
		{"shadow", shadow.MeterShadowOperations, billing.OpIoTShadowOperations},
		{"registry", registry.MeterRegistryOperations, billing.OpIoTRegistryOperations},
		{"rules", rules.MeterRulesTriggered, billing.OpIoTRulesTriggered},
		{"rules", rules.MeterActionsExecuted, billing.OpIoTActionsExecuted},
		{"dynamo", dynamo.MeterWriteRequestUnits, billing.OpDynamoDBWriteRequestUnits},
		{"dynamo", dynamo.MeterReadRequestUnits, billing.OpDynamoDBReadRequestUnits},
		{"dynamo", dynamo.MeterReplicatedWriteRequestUnits, billing.OpDynamoDBReplicatedWriteUnit},
	}
	prices := billing.USEast1()
	for _, tt := range tests {
		t.Run(tt.fake+"/"+tt.name, func(t *testing.T) {
			if tt.name != tt.want {
				t.Errorf("%s meters %q, billing prices %q", tt.fake, tt.name, tt.want)
			}
			if _, ok := prices[tt.name]; !ok {
				t.Errorf("%s meters %q, which has no price", tt.fake, tt.name)
			}
		})
	}
}

// The RegionMeter satisfies every fake's Meter interface.
var (
	_ stepfn.Meter   = billing.RegionMeter{}
	_ lambdart.Meter = billing.RegionMeter{}
	_ shadow.Meter   = billing.RegionMeter{}
	_ rules.Meter    = billing.RegionMeter{}
	_ dynamo.Meter   = billing.RegionMeter{}
	_ registry.Meter = billing.RegionMeter{}
)
