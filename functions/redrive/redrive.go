// Package redrive is the redrive function: on a schedule it re-runs every capture and
// apply the error table holds and removes each record whose re-run succeeds. Records of
// input that names no resource (undecodable messages and stream records) stay, with
// their reason, until an operator removes them.
//
// Invoked with {"reapply": true} it also re-applies every item of this Region's replica
// that another Region captured: the replay of last resort when a stream batch was given
// up without its failures recorded (an apply that crashed or timed out every time; the
// on-failure destination holds only the batch's shard and sequence range). Applies of
// items already in effect change nothing.
package redrive

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/iot-dr/iot-dr/functions/apply"
	"github.com/iot-dr/iot-dr/functions/capture"
	"github.com/iot-dr/iot-dr/functions/failures"
	"github.com/iot-dr/iot-dr/functions/spec"
)

// Capturer re-captures a resource (*capture.Capturer).
type Capturer interface {
	Key(ctx context.Context, key string) (capture.Result, error)
}

// Applier re-applies a resource (*apply.Applier).
type Applier interface {
	Key(ctx context.Context, key string) (apply.Applied, error)
}

// Items lists the keys of this Region's replica that another Region captured
// (state.Store.OthersKeys).
type Items interface {
	OthersKeys(ctx context.Context, region string, yield func(key string) error) error
}

// Handler is the redrive function's handler.
type Handler struct {
	Failures *failures.Recorder
	Capture  Capturer
	Apply    Applier
	// Items and Region serve Request.Reapply; without Items it is refused.
	Items  Items
	Region string
	Logger *slog.Logger
}

// Request is the redrive function's input; the schedule sends {}.
type Request struct {
	// Reapply also re-applies every item of the replica another Region captured.
	Reapply bool `json:"reapply"`
}

// Response summarises one run.
type Response struct {
	// Redriven counts records re-run successfully and removed.
	Redriven int `json:"redriven"`
	// StillFailing counts records whose re-run failed again; they stay.
	StillFailing int `json:"stillFailing"`
	// Unreadable counts records of input that names no resource; they stay.
	Unreadable int `json:"unreadable"`
	// Conflicts counts conflict records (spec.StageConflict); they stay.
	Conflicts int `json:"conflicts,omitempty"`
	// Reapplied and ReapplyFailed count the items of a Reapply run (failures are
	// recorded in the error table).
	Reapplied     int `json:"reapplied,omitempty"`
	ReapplyFailed int `json:"reapplyFailed,omitempty"`
}

// Handle runs one re-drive of the whole error table, and the re-apply when asked.
func (h *Handler) Handle(ctx context.Context, req Request) (Response, error) {
	resp, err := h.redrive(ctx)
	if err != nil || !req.Reapply {
		return resp, err
	}
	if h.Items == nil || h.Apply == nil {
		return resp, fmt.Errorf("redrive: this Region does not apply; nothing to re-apply")
	}
	err = h.Items.OthersKeys(ctx, h.Region, func(key string) error {
		if _, err := h.Apply.Key(ctx, key); err != nil {
			resp.ReapplyFailed++
			return h.Failures.Record(ctx, spec.StageApply, key, "ReapplyFailed", err, nil)
		}
		resp.Reapplied++
		return nil
	})
	return resp, err
}

func (h *Handler) redrive(ctx context.Context) (Response, error) {
	var resp Response
	recs, err := h.Failures.List(ctx)
	if err != nil {
		return resp, err
	}
	log := h.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	for _, f := range recs {
		if f.Key == "" {
			resp.Unreadable++
			continue
		}
		var err error
		switch f.Stage {
		case spec.StageConflict:
			resp.Conflicts++
			continue // a record for operators, not a failure to re-run
		case spec.StageCapture:
			_, err = h.Capture.Key(ctx, f.Key)
		case spec.StageApply:
			_, err = h.Apply.Key(ctx, f.Key)
		default:
			err = fmt.Errorf("redrive: record %s has unknown stage %q", f.ID, f.Stage)
		}
		if err != nil {
			resp.StillFailing++
			log.Warn("re-drive failed; the record stays", "id", f.ID, "error", err)
			continue
		}
		kept, err := h.Failures.Delete(ctx, f)
		if err != nil {
			return resp, err
		}
		if kept {
			resp.StillFailing++ // failed again while it was re-run: the newer record stays
			continue
		}
		resp.Redriven++
	}
	return resp, nil
}
