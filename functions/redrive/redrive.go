// Package redrive is the redrive function: on a schedule it re-runs every capture and
// apply the error table holds and removes each record whose re-run succeeds. Records of
// input that names no resource (undecodable messages and stream records) stay, with
// their reason, until an operator removes them.
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

// Handler is the redrive function's handler.
type Handler struct {
	Failures *failures.Recorder
	Capture  Capturer
	Apply    Applier
	Logger   *slog.Logger
}

// Response summarises one run.
type Response struct {
	// Redriven counts records re-run successfully and removed.
	Redriven int `json:"redriven"`
	// StillFailing counts records whose re-run failed again; they stay.
	StillFailing int `json:"stillFailing"`
	// Unreadable counts records of input that names no resource; they stay.
	Unreadable int `json:"unreadable"`
}

// Handle runs one re-drive of the whole error table.
func (h *Handler) Handle(ctx context.Context) (Response, error) {
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
		if err := h.Failures.Delete(ctx, f.ID); err != nil {
			return resp, err
		}
		resp.Redriven++
	}
	return resp, nil
}
