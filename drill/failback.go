package drill

import (
	"context"
	"crypto/x509/pkix"
	"errors"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/iot"
	iottypes "github.com/aws/aws-sdk-go-v2/service/iot/types"
	"github.com/aws/aws-sdk-go-v2/service/iotdataplane"
	dptypes "github.com/aws/aws-sdk-go-v2/service/iotdataplane/types"

	"github.com/iot-dr/iot-dr/functions/replication"
	"github.com/iot-dr/iot-dr/functions/spec"
	"github.com/iot-dr/iot-dr/simulator"
	"github.com/iot-dr/iot-dr/simulator/dynamo"
	"github.com/iot-dr/iot-dr/simulator/fleet"
	"github.com/iot-dr/iot-dr/simulator/pki"
)

// The failback half of every scenario: while the fleet is failed over, operators and
// devices change the secondary (shadow reports, attribute changes, newly provisioned
// devices, a deleted thing); after the restore the drill measures how long the primary
// takes to catch up, checks each of those changes in the primary, and connects the new
// devices to it.

// retiredThing is provisioned in the primary (no certificate: it is no device of the
// fleet), replicated, and deleted in the secondary while failed over.
const retiredThing = "retired-thing"

// secondaryChange is one change made in the secondary and how to find it in the
// primary after failback.
type secondaryChange struct {
	what string
	// changes is how many changes made in the secondary it stands for.
	changes int
	// inPrimary reports whether the primary holds the change, and what it holds instead.
	inPrimary func(ctx context.Context) (ok bool, got string, err error)
}

// newDevices is how many devices the operators provision in the secondary while failed
// over.
func (c Config) newDevices() int { return max(1, c.Devices/50) }

// changesInSecondary makes the failback half's changes in the secondary, where the
// fleet now lives: shadow reports and attribute changes on the upper half of the fleet
// (the lower half is what changesDuringOutage changes in the primary, so no resource is
// written in both Regions), new devices with certificate and device policy, and the
// deletion of a thing. Failed calls are retried as an SDK would (the throttling
// scenario limits the secondary's APIs); what still fails fails the drill.
func (d *run) changesInSecondary(ctx context.Context) {
	s := d.w.Secondary
	n := len(d.replicatedThings)
	upper := d.replicatedThings[n-n/2:]
	total := d.cfg.FailbackChanges
	if total == 0 {
		total = 2 * min(d.cfg.Changes, len(upper))
	}
	if len(upper) == 0 {
		total = 0
	}
	// Change j writes revision j+1 of thing j/2 (round robin over the upper half), its
	// shadow for even j, its attribute for odd j. Only each resource's last revision is
	// looked for in the primary; when it is missing, every change made to the resource
	// is lost.
	type resource struct {
		thing  string
		shadow bool
	}
	last, made := map[resource]string{}, map[resource]int{}
	var order []resource
	for j := range total {
		r := resource{thing: upper[len(upper)-1-(j/2)%len(upper)], shadow: j%2 == 0}
		rev := fmt.Sprint(j + 1)
		var err error
		if r.shadow {
			err = retryThrottled(ctx, func() error {
				_, err := s.Shadows.UpdateThingShadow(ctx, &iotdataplane.UpdateThingShadowInput{ThingName: aws.String(r.thing),
					Payload: fmt.Appendf(nil, `{"state":{"reported":{"failover":%s}}}`, rev)})
				return err
			})
		} else {
			err = retryThrottled(ctx, func() error {
				_, err := s.Registry.UpdateThing(ctx, &iot.UpdateThingInput{ThingName: aws.String(r.thing),
					AttributePayload: &iottypes.AttributePayload{Merge: true, Attributes: map[string]string{"failover": rev}}})
				return err
			})
		}
		if err != nil {
			d.fail("change in %s failed: %s of %s: %v", s.Name, map[bool]string{true: "shadow", false: "attribute"}[r.shadow], r.thing, err)
			continue
		}
		if _, ok := last[r]; !ok {
			order = append(order, r)
		}
		last[r] = rev
		made[r]++
	}
	for _, r := range order {
		thing, rev := r.thing, last[r]
		if r.shadow {
			d.record(made[r], fmt.Sprintf("shadow %s: reported failover=%s", thing, rev), func(ctx context.Context) (bool, string, error) {
				got := reportedField(ctx, d.w.Primary, thing, "failover")
				return got == rev, got, nil
			})
			continue
		}
		d.record(made[r], fmt.Sprintf("thing %s: attribute failover=%s", thing, rev), func(ctx context.Context) (bool, string, error) {
			out, err := d.w.Primary.Registry.DescribeThing(ctx, &iot.DescribeThingInput{ThingName: aws.String(thing)})
			if err != nil {
				return false, "", err
			}
			got := out.Attributes["failover"]
			return got == rev, orNone(got), nil
		})
	}
	for i := range d.cfg.newDevices() {
		name := fmt.Sprintf("failover-device-%04d", i)
		var dev fleet.Device
		err := retryThrottled(ctx, func() error {
			var err error
			dev, err = d.provisionIn(ctx, s, name, i)
			return err
		})
		d.recordOne(err, fmt.Sprintf("device %s provisioned (thing, certificate, device policy)", name), d.deviceInPrimary(name))
		if err == nil {
			d.newInSecondary = append(d.newInSecondary, dev)
			d.things = append(d.things, name)
		}
	}
	d.onboardByJITP(ctx)
	err := retryThrottled(ctx, func() error {
		_, err := s.Registry.DeleteThing(ctx, &iot.DeleteThingInput{ThingName: aws.String(retiredThing)})
		return err
	})
	d.recordOne(err, "thing "+retiredThing+" deleted", func(ctx context.Context) (bool, string, error) {
		_, err := d.w.Primary.Registry.DescribeThing(ctx, &iot.DescribeThingInput{ThingName: aws.String(retiredThing)})
		var nf *iottypes.ResourceNotFoundException
		if errors.As(err, &nf) {
			return true, "", nil
		}
		return false, "still there", err
	})
	d.phase("changes made in %s while failed over: %d (%d new devices)", s.Name, d.rep.ChangesMadeInSecondary, len(d.newInSecondary))
}

// jitpTemplateName names the drill's just-in-time provisioning template.
const jitpTemplateName = "iotdr-drill-jitp"

// setUpJITP sets up just-in-time provisioning in the primary before the fleet is
// provisioned (a factory CA with auto-registration and a JITP template), and sweeps
// the primary so that both reach the secondary: neither raises a registry event, and
// the sweep of a registry still empty costs nothing.
func (d *run) setUpJITP(ctx context.Context) error {
	ca, err := pki.NewCA("iot-dr drill factory CA")
	if err != nil {
		return err
	}
	role := "arn:aws:iam::" + d.w.Options().AccountID + ":role/iotdr-drill-provisioning"
	id, err := simulator.SetUpJITP(ctx, d.w.Primary, ca, jitpTemplateName, role)
	if err != nil {
		return err
	}
	if _, err := d.w.Sweep(ctx, d.w.Primary); err != nil {
		return err
	}
	if err := d.settle(ctx); err != nil {
		return err
	}
	if _, ok := d.w.Secondary.Registry.RegisteredCA(id); !ok {
		return fmt.Errorf("the factory CA %s set up for JITP in %s did not reach %s", id, d.w.Primary.Name, d.w.Secondary.Name)
	}
	d.factory = ca
	d.phase("just-in-time provisioning set up in %s (template %s, factory CA), carried to %s by the sweep",
		d.w.Primary.Name, jitpTemplateName, d.w.Secondary.Name)
	return nil
}

// onboardByJITP onboards new devices in the secondary while failed over as a factory's
// devices do: certificates the factory CA signed, which no Region has seen, connect
// (DNS sends them to the secondary, with SNI: the CA is SNI_ONLY there); the first
// connection runs the JITP template and is closed, the retry connects. Each is a change
// made in the secondary that failback must carry home, and a device the primary must
// accept afterwards.
func (d *run) onboardByJITP(ctx context.Context) {
	if d.factory == nil {
		return
	}
	s := d.w.Secondary.Name
	var devs []fleet.Device
	for i := range d.cfg.newDevices() {
		name := fmt.Sprintf("jitp-device-%04d", i)
		cert, err := d.factory.IssueDeviceFor(pkix.Name{CommonName: name, Country: []string{"NL"}})
		if err != nil {
			d.fail("issue %s's certificate: %v", name, err)
			return
		}
		devs = append(devs, fleet.Device{Thing: name, Cert: cert})
	}
	opts := d.fleetOptions(len(devs))
	opts.StartSpread = 0
	f, err := fleet.Start(ctx, devs, opts)
	if err != nil {
		d.fail("start the devices onboarding by JITP in %s: %v", s, err)
		return
	}
	defer f.Stop()
	wctx, cancel := context.WithTimeout(ctx, d.waitLimit())
	defer cancel()
	_ = f.Wait(wctx, func() bool {
		for _, dev := range devs {
			if !publishedIn(f, dev.Thing, s) {
				return false
			}
		}
		return true
	})
	onboarded := 0
	for _, dev := range devs {
		if !publishedIn(f, dev.Thing, s) {
			d.fail("device %s did not onboard by JITP in %s (its connects were refused: %v)", dev.Thing, s, d.w.Secondary.Broker.ConnectRefusals(dev.Thing))
			continue
		}
		onboarded++
		name := dev.Thing
		if d.justInTime == nil {
			d.justInTime = map[string]bool{}
		}
		d.justInTime[name] = true
		d.record(1, fmt.Sprintf("device %s onboarded by JITP (thing, certificate, device policy)", name), d.deviceInPrimary(name))
		d.newInSecondary = append(d.newInSecondary, dev)
		d.things = append(d.things, name)
	}
	d.rep.DevicesOnboardedByJITP = onboarded
	d.phase("devices onboarded by JITP in %s: %d of %d", s, onboarded, len(devs))
}

// deviceInPrimary reports whether the primary has the new device name: its thing, with
// a certificate attached.
func (d *run) deviceInPrimary(name string) func(context.Context) (bool, string, error) {
	return func(ctx context.Context) (bool, string, error) {
		out, err := d.w.Primary.Registry.ListThingPrincipals(ctx, &iot.ListThingPrincipalsInput{ThingName: aws.String(name)})
		var nf *iottypes.ResourceNotFoundException
		if errors.As(err, &nf) {
			return false, "no such thing", nil
		}
		if err != nil {
			return false, "", err
		}
		return len(out.Principals) > 0, fmt.Sprintf("%d certificates attached", len(out.Principals)), nil
	}
}

// recordOne counts one change made in the secondary (err nil) or fails the drill.
func (d *run) recordOne(err error, what string, inPrimary func(context.Context) (bool, string, error)) {
	if err != nil {
		d.fail("change in %s failed: %s: %v", d.w.Secondary.Name, what, err)
		return
	}
	d.record(1, what, inPrimary)
}

// record counts n changes made in the secondary to one resource, whose final state is
// what, to be looked for in the primary after failback.
func (d *run) record(n int, what string, inPrimary func(context.Context) (bool, string, error)) {
	d.rep.ChangesMadeInSecondary += n
	d.secondaryChanges = append(d.secondaryChanges, secondaryChange{what: what, changes: n, inPrimary: inPrimary})
}

// provisionIn provisions a device in r as an operator would there: thing, a certificate
// from the fleet's CA (so the device can connect to either Region), the device policy,
// and a reported shadow.
func (d *run) provisionIn(ctx context.Context, r *simulator.Region, name string, i int) (fleet.Device, error) {
	cert, err := simulator.Provision(ctx, r.Registry, d.w.CA, r.Name, d.w.Options().AccountID, d.deviceSpec(name, i))
	if err != nil {
		return fleet.Device{}, err
	}
	if _, err := r.Shadows.UpdateThingShadow(ctx, &iotdataplane.UpdateThingShadowInput{ThingName: aws.String(name),
		Payload: []byte(`{"state":{"reported":{"config":0}}}`)}); err != nil {
		return fleet.Device{}, fmt.Errorf("shadow of %s: %w", name, err)
	}
	return fleet.Device{Thing: name, Cert: cert}, nil
}

// retryThrottled runs call until it succeeds, fails with anything but throttling, or
// ctx ends, backing off as the SDK's standard retryer does.
func retryThrottled(ctx context.Context, call func() error) error {
	for attempt := 1; ; attempt++ {
		err := call()
		var th *iottypes.ThrottlingException
		var dth *dptypes.ThrottlingException
		if err == nil || !errors.As(err, &th) && !errors.As(err, &dth) || attempt == 50 {
			return err
		}
		t := time.NewTimer(time.Duration(min(attempt, 10)) * 20 * time.Millisecond)
		select {
		case <-ctx.Done():
			t.Stop()
			return err
		case <-t.C:
		}
	}
}

// reportedField is one key of a thing's reported shadow state as JSON ("none" without).
func reportedField(ctx context.Context, r *simulator.Region, thing, key string) string {
	state, problem := readReported(ctx, r, thing)
	if problem != "" {
		return problem
	}
	reported, _ := state.(map[string]any)
	v, ok := reported[key]
	if !ok {
		return "none"
	}
	return fmt.Sprint(v)
}

// readReported reads a thing's reported shadow state, as a client would: throttled
// reads are retried (a fleet's own shadow updates share the account's quota). problem
// is "none" without a shadow, "unreadable" for a document that is not one or a read
// that failed otherwise.
func readReported(ctx context.Context, r *simulator.Region, thing string) (reported any, problem string) {
	var out *iotdataplane.GetThingShadowOutput
	err := retryThrottled(ctx, func() (err error) {
		out, err = r.Shadows.GetThingShadow(ctx, &iotdataplane.GetThingShadowInput{ThingName: aws.String(thing)})
		return err
	})
	var missing *dptypes.ResourceNotFoundException
	switch {
	case errors.As(err, &missing):
		return nil, "none"
	case err != nil:
		return nil, "unreadable (" + err.Error() + ")"
	}
	state, err := replication.ShadowState(out.Payload)
	if err != nil {
		return nil, "unreadable"
	}
	return state["reported"], ""
}

func orNone(s string) string {
	if s == "" {
		return "none"
	}
	return s
}

// catchUp waits, from the restore, until the primary holds every change made in the
// secondary, and returns when that was. Where some never arrive it returns when the
// pipeline went idle (nothing more is coming): the changes missing then are the losses
// failbackLosses counts.
func (d *run) catchUp(ctx context.Context) (time.Time, error) {
	settled := make(chan error, 1)
	go func() { settled <- d.settle(ctx) }()
	// The drill reads the primary as a client would, under its quotas: one read of the
	// first change still missing per tick, at most 10 a second, half a thing's shadow
	// quota (20 a second), so that the drill's own polling never throttles the apply
	// of the very shadow it waits for.
	tick := time.NewTicker(max(d.cfg.Wall(d.cfg.Interval)/20, 100*time.Millisecond))
	defer tick.Stop()
	next := 0 // changes before next are in the primary: applied changes stay applied
	for {
		if next = d.inPrimaryFrom(ctx, next); next == len(d.secondaryChanges) {
			return time.Now(), nil
		}
		select {
		case err := <-settled:
			return time.Now(), err
		case <-tick.C:
		}
	}
}

// inPrimaryFrom checks the changes made in the secondary from the i-th on and returns
// the index of the first the primary lacks (len when it holds them all).
func (d *run) inPrimaryFrom(ctx context.Context, i int) int {
	for ; i < len(d.secondaryChanges); i++ {
		if ok, _, err := d.secondaryChanges[i].inPrimary(ctx); !ok || err != nil {
			return i
		}
	}
	return i
}

// connectNewDevices starts the devices provisioned in the secondary once the fleet is
// back on the primary: DNS sends them there, and each must be accepted. A device the
// primary refuses (its certificate or thing never reached it) is counted, with the
// broker's reason.
func (d *run) connectNewDevices(ctx context.Context, opts fleet.Options, restored time.Time) {
	if len(d.newInSecondary) == 0 {
		return
	}
	opts.StartSpread = 0
	f, err := fleet.Start(ctx, d.newInSecondary, opts)
	if err != nil {
		d.fail("start the devices provisioned in %s: %v", d.w.Secondary.Name, err)
		return
	}
	defer f.Stop()
	ctx, cancel := context.WithTimeout(ctx, d.waitLimit())
	defer cancel()
	p := d.w.Primary.Name
	refused := func() map[string]string {
		out := map[string]string{}
		for _, r := range d.w.Primary.Broker.Refusals() {
			if r.Time.After(restored) && !r.Throttled {
				out[r.ClientID] = r.Reason
			}
		}
		return out
	}
	settled := func() bool {
		ref := refused()
		for _, dev := range d.newInSecondary {
			if _, ok := ref[dev.Thing]; !ok && !publishedIn(f, dev.Thing, p) {
				return false
			}
		}
		return true
	}
	_ = f.Wait(ctx, settled)
	ref := refused()
	for _, dev := range d.newInSecondary {
		switch reason, ok := ref[dev.Thing]; {
		case publishedIn(f, dev.Thing, p):
		case ok:
			d.rep.DevicesRefusedAfterFailback++
			d.rep.RefusedAfterFailback = append(d.rep.RefusedAfterFailback, Refusal{Device: dev.Thing, Reason: reason})
		default:
			d.rep.DevicesRefusedAfterFailback++
			d.rep.RefusedAfterFailback = append(d.rep.RefusedAfterFailback, Refusal{Device: dev.Thing, Reason: "never connected to " + p})
		}
	}
	if n := d.rep.DevicesRefusedAfterFailback; n > 0 {
		d.fail("%d of %d devices provisioned in %s while failed over were refused by %s after failback (e.g. %s: %s)",
			n, len(d.newInSecondary), d.w.Secondary.Name, p, d.rep.RefusedAfterFailback[0].Device, d.rep.RefusedAfterFailback[0].Reason)
	}
	d.phase("devices provisioned in %s: %d of %d accepted by %s", d.w.Secondary.Name,
		len(d.newInSecondary)-d.rep.DevicesRefusedAfterFailback, len(d.newInSecondary), p)
}

// publishedIn reports whether thing published in region (its connection works).
func publishedIn(f *fleet.Fleet, thing, region string) bool {
	for _, e := range f.Timeline(thing) {
		if e.Kind == fleet.KindPublished && e.Region == region {
			return true
		}
	}
	return false
}

// failbackLosses checks every change made in the secondary in the primary, after the
// catch-up: what the primary lacks was lost on failback.
func (d *run) failbackLosses(ctx context.Context) error {
	for _, c := range d.secondaryChanges {
		ok, got, err := c.inPrimary(ctx)
		if err != nil {
			return fmt.Errorf("check %s in %s: %w", c.what, d.w.Primary.Name, err)
		}
		if !ok {
			d.rep.ChangesLostOnFailback += c.changes
			if len(d.rep.LostOnFailback) < 5 {
				d.rep.LostOnFailback = append(d.rep.LostOnFailback, fmt.Sprintf("%s: %s has %s", c.what, d.w.Primary.Name, got))
			}
		}
	}
	if n := d.rep.ChangesLostOnFailback; n > 0 {
		d.fail("%d of %d changes made in %s while failed over are not in %s after failback (e.g. %s)",
			n, d.rep.ChangesMadeInSecondary, d.w.Secondary.Name, d.w.Primary.Name, d.rep.LostOnFailback[0])
	}
	d.phase("failback: %d of %d changes made in %s lost", d.rep.ChangesLostOnFailback, d.rep.ChangesMadeInSecondary, d.w.Secondary.Name)
	return nil
}

// echoWrites counts, over both Regions' state tables, the writes that captured no
// change: echoes, a Region's capture writing an item's content back as it came from
// the other Region (its origin flips, its hash stays), as a capture reading what an apply
// had just written would; and duplicates, a Region's capture rewriting its own item
// unchanged (two captures of one change racing, as at-least-once events make them).
// Writes replicated in from the other Region are not the Region's own.
func (d *run) echoWrites() (echo, duplicate int) {
	for _, r := range []*simulator.Region{d.w.Primary, d.w.Secondary} {
		recs, _ := r.State.Stream().ReadShardRecords(-1, "", 0)
		writes := make([]write, len(recs))
		for i, rec := range recs {
			writes[i] = write{old: rec.OldImage(), new: rec.NewImage()}
		}
		e, dup := echoes(r.Name, writes)
		echo += e
		duplicate += dup
	}
	return echo, duplicate
}

// echoes counts the records of region's state-table stream that are region's own
// writes leaving an item's hash as it was: echoes where the item came from another
// Region, duplicates where it was region's own.
func echoes(region string, writes []write) (echo, duplicate int) {
	for _, w := range writes {
		img, old := w.new, w.old
		if img == nil || old == nil || attrString(img, spec.StateAttrOrigin) != region ||
			attrString(img, spec.StateAttrHash) != attrString(old, spec.StateAttrHash) {
			continue
		}
		if attrString(old, spec.StateAttrOrigin) == region {
			duplicate++
		} else {
			echo++
		}
	}
	return echo, duplicate
}

// write is one state-table write as its stream record has it: the item before and after.
type write struct{ old, new dynamo.Item }

func attrString(img dynamo.Item, name string) string {
	v, ok := img[name].(*ddbtypes.AttributeValueMemberS)
	if !ok {
		return ""
	}
	return v.Value
}
