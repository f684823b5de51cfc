package failures

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/iot-dr/iot-dr/functions/spec"
	"github.com/iot-dr/iot-dr/simulator/dynamo"
)

func TestRecordListDelete(t *testing.T) {
	ctx := context.Background()
	et := spec.ErrorTable()
	now := time.Date(2026, 12, 2, 20, 0, 0, 0, time.UTC)
	r := &Recorder{Table: dynamo.NewTable("eu-west-1", "1", dynamo.Schema{Name: "errors", HashKey: et.HashKey}), Name: "errors",
		Now: func() time.Time { return now }}
	if err := r.Record(ctx, spec.StageApply, "thing#dev-1", "ApplyFailed", errors.New("ThrottlingException"), nil); err != nil {
		t.Fatal(err)
	}
	bad := []byte(strings.Repeat("x", 20000))
	if err := r.Record(ctx, spec.StageCapture, "", "InvalidEvent", errors.New("missing eventId"), bad); err != nil {
		t.Fatal(err)
	}
	recs, err := r.List(ctx)
	if err != nil || len(recs) != 2 {
		t.Fatalf("List = %+v, %v", recs, err)
	}
	byID := map[string]Failure{}
	for _, f := range recs {
		byID[f.ID] = f
	}
	apply := byID["apply#thing#dev-1"]
	if apply.Key != "thing#dev-1" || apply.Stage != spec.StageApply || apply.Error != "ApplyFailed" || apply.Cause != "ThrottlingException" {
		t.Errorf("apply record %+v", apply)
	}
	for id, f := range byID {
		if strings.HasPrefix(id, "capture#invalid#") && (len(f.Input) > 100 || f.Key != "") {
			t.Errorf("bad input kept whole (%d bytes) or with a key %q", len(f.Input), f.Key)
		}
	}

	// The same resource fails again after the listing: deleting what was listed keeps
	// the newer record.
	now = now.Add(time.Second)
	if err := r.Record(ctx, spec.StageApply, "thing#dev-1", "ApplyFailed", errors.New("again"), nil); err != nil {
		t.Fatal(err)
	}
	if kept, err := r.Delete(ctx, apply); err != nil || !kept {
		t.Fatalf("Delete of a record written again = kept %t, %v; want kept", kept, err)
	}
	recs, _ = r.List(ctx)
	if len(recs) != 2 {
		t.Fatalf("%d records after the refused delete, want 2", len(recs))
	}
	for _, f := range recs {
		if f.ID == "apply#thing#dev-1" {
			if kept, err := r.Delete(ctx, f); err != nil || kept {
				t.Fatalf("Delete as listed = kept %t, %v", kept, err)
			}
		}
	}
	if recs, _ = r.List(ctx); len(recs) != 1 {
		t.Errorf("%d records left, want 1", len(recs))
	}
}
