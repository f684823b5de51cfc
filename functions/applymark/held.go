package applymark

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/iot-dr/iot-dr/functions/spec"
)

// Held records which of another Region's items this Region's apply has converged a
// resource to, for the kinds whose deletion raises no event and leaves nothing a
// capture could tell from an apply that has not run yet (HeldKind): retained
// messages, billing groups, role aliases, provisioning templates and CA
// certificates. Such a resource missing here whose item another Region wrote is
// either deleted here (a delete to replicate) or not created here yet (its apply
// still pending, or failed); only a Held record naming that very item tells the
// first from the second. The applied marks (Marks.SetApplied) cannot: they are set
// also when an apply failed for good, and an unmarked item older than their
// retention counts as applied.
//
// One record per resource, "held#<state key>", overwritten by each apply. A live
// item's record does not expire (the copy lives as long as the message does); a
// tombstone's expires after Retention. Applies of one resource are serial, so the
// write needs no condition.
type Held struct {
	Table Table
	Name  string
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

func heldKey(key string) string { return "held#" + key }

// HeldKind reports whether the apply records Held for kind: the kinds only the sweep
// captures, whose deletes the sweep's table stage must find in either Region.
func HeldKind(kind string) bool {
	switch kind {
	case spec.KindRetained, spec.KindBillingGroup, spec.KindRoleAlias, spec.KindProvisioningTemplate, spec.KindCACertificate:
		return true
	}
	return false
}

// Record notes that this Region now holds the content of the item ref names
// ("<origin>/<seq>", state.Item.Ref) for key; deleted is true for a tombstone.
func (h *Held) Record(ctx context.Context, key, ref string, deleted bool) error {
	item := map[string]types.AttributeValue{
		spec.MarkAttrKey:  &types.AttributeValueMemberS{Value: heldKey(key)},
		spec.MarkAttrHeld: &types.AttributeValueMemberS{Value: ref},
	}
	if deleted {
		now := time.Now
		if h.Now != nil {
			now = h.Now
		}
		item[spec.MarkAttrExpires] = &types.AttributeValueMemberN{Value: strconv.FormatInt(now().Add(Retention).Unix(), 10)}
	}
	if _, err := h.Table.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(h.Name), Item: item}); err != nil {
		return fmt.Errorf("applymark: record held %s: %w", key, err)
	}
	return nil
}

// HeldRef returns the ref of the item key was last converged to here, and whether
// there is one (strongly consistent).
func (h *Held) HeldRef(ctx context.Context, key string) (string, bool, error) {
	out, err := h.Table.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String(h.Name), ConsistentRead: aws.Bool(true),
		Key: map[string]types.AttributeValue{spec.MarkAttrKey: &types.AttributeValueMemberS{Value: heldKey(key)}}})
	if err != nil {
		return "", false, fmt.Errorf("applymark: read held %s: %w", key, err)
	}
	if out.Item == nil {
		return "", false, nil
	}
	v, ok := out.Item[spec.MarkAttrHeld].(*types.AttributeValueMemberS)
	if !ok {
		return "", false, fmt.Errorf("applymark: held %s lacks the string %s", key, spec.MarkAttrHeld)
	}
	return v.Value, true, nil
}
