package billing

import (
	"math"
	"strings"
	"sync"
	"testing"
)

func approx(t *testing.T, name string, got, want float64) {
	t.Helper()
	if math.Abs(got-want) > 1e-12*math.Max(1, math.Abs(want)) {
		t.Errorf("%s = %.15g, want %.15g", name, got, want)
	}
}

func TestUnits(t *testing.T) {
	tests := []struct {
		name string
		got  float64
		want float64
	}{
		{"WriteUnits(0)", WriteUnits(0), 1},
		{"WriteUnits(1024)", WriteUnits(1024), 1},
		{"WriteUnits(1025)", WriteUnits(1025), 2},
		{"WriteUnits(3000)", WriteUnits(3000), 3},
		{"ReadUnits(100,strong)", ReadUnits(100, true), 1},
		{"ReadUnits(100,eventual)", ReadUnits(100, false), 0.5},
		{"ReadUnits(8192,strong)", ReadUnits(8192, true), 2},
		{"ReadUnits(8193,eventual)", ReadUnits(8193, false), 1.5},
		{"ShadowUnits(1)", ShadowUnits(1), 1},
		{"ShadowUnits(2049)", ShadowUnits(2049), 3},
		{"MessageUnits(5120)", MessageUnits(5120), 1},
		{"MessageUnits(5121)", MessageUnits(5121), 2},
		{"GBSeconds(1000ms,1024MB)", GBSeconds(1000, 1024), 1},
		{"GBSeconds(1ms,128MB)", GBSeconds(1, 128), 0.001 / 8},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { approx(t, tt.name, tt.got, tt.want) })
	}
}

func TestCost(t *testing.T) {
	tests := []struct {
		name string
		adds []struct {
			region, op string
			q          float64
		}
		want  float64
		lines int
	}{
		{name: "empty", want: 0},
		{
			name: "million shadow updates through Step Functions",
			adds: []struct {
				region, op string
				q          float64
			}{
				{"eu-west-1", OpStepFunctionsTransitions, 3e6},
				{"us-east-1", OpIoTShadowOperations, 1e6},
			},
			want: 75 + 1.25, lines: 2,
		},
		{
			name: "dynamo units",
			adds: []struct {
				region, op string
				q          float64
			}{
				{"us-east-1", OpDynamoDBWriteRequestUnits, 1e6},
				{"us-east-1", OpDynamoDBWriteRequestUnits, 1e6},
				{"us-east-1", OpDynamoDBReadRequestUnits, 4e6},
				{"eu-west-1", OpDynamoDBReplicatedWriteUnit, 2e6},
			},
			want: 2*0.625 + 4*0.125 + 2*0.625, lines: 3,
		},
		{
			name: "lambda",
			adds: []struct {
				region, op string
				q          float64
			}{
				{"eu-west-1", OpLambdaRequests, 1e6},
				{"eu-west-1", OpLambdaGBSeconds, 1e5},
			},
			want: 0.20 + 1e5*0.0000133334, lines: 2,
		},
		{
			name: "unpriced and non-positive quantities",
			adds: []struct {
				region, op string
				q          float64
			}{
				{"us-east-1", "Something-Else", 5},
				{"us-east-1", OpIoTRulesTriggered, -3},
				{"us-east-1", OpIoTRulesTriggered, math.NaN()},
			},
			want: 0, lines: 1,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := NewMeter(nil)
			for _, a := range tt.adds {
				m.Add(a.region, a.op, a.q)
			}
			b := m.Cost()
			approx(t, "total", b.TotalUSD, tt.want)
			if len(b.Lines) != tt.lines {
				t.Errorf("lines = %d, want %d:\n%s", len(b.Lines), tt.lines, b.Table())
			}
			var sum float64
			for _, l := range b.Lines {
				sum += l.USD
				if !l.Unpriced && l.Source == "" {
					t.Errorf("line %s has no source", l.Op)
				}
			}
			approx(t, "sum of lines", sum, b.TotalUSD)
			if !strings.Contains(m.String(), "total") {
				t.Errorf("table has no total line:\n%s", m.String())
			}
		})
	}
}

func TestPriceTableHasSources(t *testing.T) {
	for op, p := range USEast1() {
		if p.USD <= 0 || p.Source == "" || p.Unit == "" {
			t.Errorf("%s: incomplete price %+v", op, p)
		}
	}
}

func TestRegionMeterConcurrent(t *testing.T) {
	m := NewMeter(nil)
	var wg sync.WaitGroup
	for i := range 8 {
		r := m.ForRegion([]string{"us-east-1", "eu-west-1"}[i%2])
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 1000 {
				r.Add(OpLambdaRequests, 1)
			}
		}()
	}
	wg.Wait()
	u := m.Snapshot()
	approx(t, "total requests", u.Total(OpLambdaRequests), 8000)
	approx(t, "us-east-1", u["us-east-1"][OpLambdaRequests], 4000)
	m.Reset()
	if n := len(m.Snapshot()); n != 0 {
		t.Errorf("after Reset %d regions", n)
	}
}
