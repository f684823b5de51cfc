// Package reconcile is the scheduled reconciler of the apply pipeline. Each run re-drives
// the events recorded in the error table (an event whose apply now succeeds is removed
// from it) and, when asked, compares the two Regions in full and repairs every
// difference, which also catches the certificate and policy attachments AWS publishes no
// registry event for.
//
// It never deletes an error-table record it could not apply: bad input stays there, with
// its reason, until an operator removes it.
package reconcile

import (
	"context"
	"errors"
	"fmt"
	"log/slog"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/iot-dr/iot-dr/functions/event"
	"github.com/iot-dr/iot-dr/functions/replication"
	"github.com/iot-dr/iot-dr/functions/spec"
	"github.com/iot-dr/iot-dr/functions/worker"
)

// ErrorTable is the part of *dynamodb.Client the reconciler uses.
type ErrorTable interface {
	Scan(ctx context.Context, in *dynamodb.ScanInput, optFns ...func(*dynamodb.Options)) (*dynamodb.ScanOutput, error)
	DeleteItem(ctx context.Context, in *dynamodb.DeleteItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.DeleteItemOutput, error)
}

// Applier applies one event (worker.Handlers.Apply).
type Applier interface {
	Apply(ctx context.Context, ev event.Event) (worker.Result, error)
}

// FullReconciler compares and repairs the Regions in full (*replication.Replicator).
type FullReconciler interface {
	Reconcile(ctx context.Context, opts replication.ReconcileOptions) (replication.Report, error)
}

// Request is the scheduled event's input.
type Request struct {
	// Full also runs the complete compare-and-repair of the two Regions.
	Full bool `json:"full"`
	// Shadows includes classic shadows in the full compare.
	Shadows bool `json:"shadows"`
}

// Response summarises one run.
type Response struct {
	// Redriven counts error-table records now applied and removed.
	Redriven int `json:"redriven"`
	// StillFailing counts records whose apply failed again; they stay.
	StillFailing int `json:"stillFailing"`
	// Unreadable counts records that are not an event the pipeline can apply (bad input).
	Unreadable int `json:"unreadable"`
	// Full is the full reconcile's report, when one ran.
	Full *replication.Report `json:"full,omitempty"`
}

// Handler is the reconciler's Lambda handler.
type Handler struct {
	Errors    ErrorTable
	TableName string
	Apply     Applier
	Full      FullReconciler
	Logger    *slog.Logger
}

// Handle runs one reconciliation.
func (h *Handler) Handle(ctx context.Context, req Request) (Response, error) {
	var resp Response
	var startKey map[string]ddbtypes.AttributeValue
	for {
		page, err := h.Errors.Scan(ctx, &dynamodb.ScanInput{TableName: aws.String(h.TableName), ExclusiveStartKey: startKey})
		if err != nil {
			return resp, fmt.Errorf("scan error table %s: %w", h.TableName, err)
		}
		for _, item := range page.Items {
			if err := h.redrive(ctx, item, &resp); err != nil {
				return resp, err
			}
		}
		if len(page.LastEvaluatedKey) == 0 {
			break
		}
		startKey = page.LastEvaluatedKey
	}
	if req.Full {
		rep, err := h.Full.Reconcile(ctx, replication.ReconcileOptions{Shadows: req.Shadows})
		if err != nil {
			return resp, fmt.Errorf("full reconcile: %w", err)
		}
		resp.Full = &rep
	}
	h.logger().Info("reconciled", "redriven", resp.Redriven, "stillFailing", resp.StillFailing, "unreadable", resp.Unreadable)
	return resp, nil
}

// redrive re-applies one recorded event; only a failure to talk to the error table
// itself aborts the run.
func (h *Handler) redrive(ctx context.Context, item map[string]ddbtypes.AttributeValue, resp *Response) error {
	id := str(item, spec.ErrorAttrID)
	log := h.logger().With("id", id, "eventId", str(item, spec.ErrorAttrEventID))
	ev, err := event.Decode([]byte(str(item, spec.ErrorAttrEvent)))
	if err != nil {
		resp.Unreadable++
		log.Warn("error-table record is not an applicable event; left for an operator", "error", err)
		return nil
	}
	if _, err := h.Apply.Apply(ctx, ev); err != nil {
		resp.StillFailing++
		log.Warn("re-drive failed; record kept", "error", err, "permanent", errors.As(err, new(*replication.PermanentError)))
		return nil
	}
	if _, err := h.Errors.DeleteItem(ctx, &dynamodb.DeleteItemInput{
		TableName: aws.String(h.TableName),
		Key:       map[string]ddbtypes.AttributeValue{spec.ErrorAttrID: &ddbtypes.AttributeValueMemberS{Value: id}},
	}); err != nil {
		return fmt.Errorf("remove re-driven record %s: %w", id, err)
	}
	resp.Redriven++
	log.Info("re-driven")
	return nil
}

func str(item map[string]ddbtypes.AttributeValue, k string) string {
	if v, ok := item[k].(*ddbtypes.AttributeValueMemberS); ok {
		return v.Value
	}
	return ""
}

func (h *Handler) logger() *slog.Logger {
	if h.Logger == nil {
		return slog.New(slog.DiscardHandler)
	}
	return h.Logger
}
