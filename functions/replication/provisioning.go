package replication

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iot"
	"github.com/aws/aws-sdk-go-v2/service/iot/types"
)

// ProvisioningSource is what the onboarding kinds (role aliases, provisioning
// templates, CA certificates) are read from: a Region's API, or the state view.
type ProvisioningSource interface {
	DescribeRoleAlias(ctx context.Context, in *iot.DescribeRoleAliasInput, optFns ...func(*iot.Options)) (*iot.DescribeRoleAliasOutput, error)
	DescribeProvisioningTemplate(ctx context.Context, in *iot.DescribeProvisioningTemplateInput, optFns ...func(*iot.Options)) (*iot.DescribeProvisioningTemplateOutput, error)
	DescribeCACertificate(ctx context.Context, in *iot.DescribeCACertificateInput, optFns ...func(*iot.Options)) (*iot.DescribeCACertificateOutput, error)
}

// ProvisioningLists are the onboarding kinds' fleet-wide lists (the sweep, sync and
// verify page them; the state view has none).
type ProvisioningLists interface {
	ListRoleAliases(ctx context.Context, in *iot.ListRoleAliasesInput, optFns ...func(*iot.Options)) (*iot.ListRoleAliasesOutput, error)
	ListProvisioningTemplates(ctx context.Context, in *iot.ListProvisioningTemplatesInput, optFns ...func(*iot.Options)) (*iot.ListProvisioningTemplatesOutput, error)
	ListCACertificates(ctx context.Context, in *iot.ListCACertificatesInput, optFns ...func(*iot.Options)) (*iot.ListCACertificatesOutput, error)
}

// ProvisioningReader is a Region's API read for the onboarding kinds.
type ProvisioningReader interface {
	ProvisioningSource
	ProvisioningLists
}

// Provisioning is the part of a Region's control plane (*iot.Client) the onboarding
// kinds are converged with.
type Provisioning interface {
	ProvisioningReader
	CreateRoleAlias(ctx context.Context, in *iot.CreateRoleAliasInput, optFns ...func(*iot.Options)) (*iot.CreateRoleAliasOutput, error)
	UpdateRoleAlias(ctx context.Context, in *iot.UpdateRoleAliasInput, optFns ...func(*iot.Options)) (*iot.UpdateRoleAliasOutput, error)
	DeleteRoleAlias(ctx context.Context, in *iot.DeleteRoleAliasInput, optFns ...func(*iot.Options)) (*iot.DeleteRoleAliasOutput, error)
	CreateProvisioningTemplate(ctx context.Context, in *iot.CreateProvisioningTemplateInput, optFns ...func(*iot.Options)) (*iot.CreateProvisioningTemplateOutput, error)
	UpdateProvisioningTemplate(ctx context.Context, in *iot.UpdateProvisioningTemplateInput, optFns ...func(*iot.Options)) (*iot.UpdateProvisioningTemplateOutput, error)
	DeleteProvisioningTemplate(ctx context.Context, in *iot.DeleteProvisioningTemplateInput, optFns ...func(*iot.Options)) (*iot.DeleteProvisioningTemplateOutput, error)
	CreateProvisioningTemplateVersion(ctx context.Context, in *iot.CreateProvisioningTemplateVersionInput, optFns ...func(*iot.Options)) (*iot.CreateProvisioningTemplateVersionOutput, error)
	ListProvisioningTemplateVersions(ctx context.Context, in *iot.ListProvisioningTemplateVersionsInput, optFns ...func(*iot.Options)) (*iot.ListProvisioningTemplateVersionsOutput, error)
	DeleteProvisioningTemplateVersion(ctx context.Context, in *iot.DeleteProvisioningTemplateVersionInput, optFns ...func(*iot.Options)) (*iot.DeleteProvisioningTemplateVersionOutput, error)
	RegisterCACertificate(ctx context.Context, in *iot.RegisterCACertificateInput, optFns ...func(*iot.Options)) (*iot.RegisterCACertificateOutput, error)
	UpdateCACertificate(ctx context.Context, in *iot.UpdateCACertificateInput, optFns ...func(*iot.Options)) (*iot.UpdateCACertificateOutput, error)
	DeleteCACertificate(ctx context.Context, in *iot.DeleteCACertificateInput, optFns ...func(*iot.Options)) (*iot.DeleteCACertificateOutput, error)
}

var _ Provisioning = (*iot.Client)(nil)

// DescribeBoth describes one onboarding resource in the source and the target; a
// side's output is nil where the resource is not found. Other errors name the Region.
func DescribeBoth[O any](src, tgt ProvisioningSource, srcRegion, tgtRegion string, describe func(ProvisioningSource) (*O, error)) (s, t *O, err error) {
	s, err = describe(src)
	if err != nil && !IsNotFound(err) {
		return nil, nil, fmt.Errorf("describe in %s: %w", srcRegion, err)
	}
	t, err = describe(tgt)
	if err != nil && !IsNotFound(err) {
		return nil, nil, fmt.Errorf("describe in %s: %w", tgtRegion, err)
	}
	return s, t, nil
}

func (r *Replicator) provisioning() error {
	if r.SourceProvisioning == nil || r.TargetProvisioning == nil {
		return invalidf("role alias, provisioning template and CA certificate replication is not configured (no clients)")
	}
	return nil
}

// RoleAlias converges one role alias: created or updated to the source's role and
// credential duration, deleted when the source no longer has it. The role is IAM's,
// the same ARN in every Region.
func (r *Replicator) RoleAlias(ctx context.Context, name string) (Outcome, error) {
	rec := &recorder{}
	err := r.roleAlias(ctx, name, rec)
	return r.finish(ctx, "role alias", name, rec, 0, err)
}

func (r *Replicator) roleAlias(ctx context.Context, name string, rec *recorder) error {
	if name == "" || len(name) > 128 {
		return invalidf("role alias %q: must be 1 to 128 characters", excerpt(name))
	}
	if err := r.provisioning(); err != nil {
		return err
	}
	src, tgt, err := DescribeBoth(r.SourceProvisioning, r.TargetProvisioning, r.SourceRegion, r.TargetRegion,
		func(p ProvisioningSource) (*iot.DescribeRoleAliasOutput, error) {
			return p.DescribeRoleAlias(ctx, &iot.DescribeRoleAliasInput{RoleAlias: aws.String(name)})
		})
	if err != nil {
		return err
	}
	gone, missing := src == nil, tgt == nil
	switch {
	case gone && missing:
		return nil
	case gone:
		if _, err := r.TargetProvisioning.DeleteRoleAlias(ctx, &iot.DeleteRoleAliasInput{RoleAlias: aws.String(name)}); err != nil && !IsNotFound(err) {
			return fmt.Errorf("delete in %s: %w", r.TargetRegion, err)
		}
		rec.add("deleted role alias %s", name)
		return nil
	}
	want := src.RoleAliasDescription
	if want == nil {
		return fmt.Errorf("describe in %s: empty description", r.SourceRegion)
	}
	if missing {
		_, err := r.TargetProvisioning.CreateRoleAlias(ctx, &iot.CreateRoleAliasInput{
			RoleAlias: aws.String(name), RoleArn: want.RoleArn, CredentialDurationSeconds: want.CredentialDurationSeconds,
		})
		if err == nil {
			rec.add("created role alias %s", name)
			return nil
		}
		if !isAlreadyExists(err) {
			return fmt.Errorf("create in %s: %w", r.TargetRegion, err)
		}
		// Created meanwhile: converge it below.
		if tgt, err = r.TargetProvisioning.DescribeRoleAlias(ctx, &iot.DescribeRoleAliasInput{RoleAlias: aws.String(name)}); err != nil {
			return fmt.Errorf("describe in %s: %w", r.TargetRegion, err)
		}
	}
	have := tgt.RoleAliasDescription
	if have != nil && aws.ToString(have.RoleArn) == aws.ToString(want.RoleArn) && aws.ToInt32(have.CredentialDurationSeconds) == aws.ToInt32(want.CredentialDurationSeconds) {
		return nil
	}
	if _, err := r.TargetProvisioning.UpdateRoleAlias(ctx, &iot.UpdateRoleAliasInput{
		RoleAlias: aws.String(name), RoleArn: want.RoleArn, CredentialDurationSeconds: want.CredentialDurationSeconds,
	}); err != nil {
		return fmt.Errorf("update in %s: %w", r.TargetRegion, err)
	}
	rec.add("updated role alias %s", name)
	return nil
}

// RewriteLambdaRegion returns a Lambda ARN with its Region from replaced by to: a
// pre-provisioning hook runs in its template's Region, so the target's template names
// the target Region's function of the same name (which the user deploys there).
func RewriteLambdaRegion(arn, from, to string) string {
	if from == "" || to == "" {
		return arn
	}
	return strings.Replace(arn, ":lambda:"+from+":", ":lambda:"+to+":", 1)
}

// ProvisioningTemplate converges one provisioning template: its default version's body
// (the Region of ARNs in it rewritten, as in policies), type, description, enabled
// flag, provisioning role (IAM, global) and pre-provisioning hook (its Lambda's Region
// rewritten to the target's). A changed body becomes a new default version in the
// target (the oldest other version deleted first when the target has AWS's 5); a
// changed type, which AWS cannot update, re-creates the template; a template the
// source no longer has is deleted.
func (r *Replicator) ProvisioningTemplate(ctx context.Context, name string) (Outcome, error) {
	rec := &recorder{}
	err := r.template(ctx, name, rec)
	return r.finish(ctx, "provisioning template", name, rec, 0, err)
}

func (r *Replicator) template(ctx context.Context, name string, rec *recorder) error {
	return r.templateAttempt(ctx, name, rec, false)
}

// templateAttempt converges a template; a create that finds it created meanwhile (the
// apply of a CA that names it runs beside the template's own) converges again, once.
func (r *Replicator) templateAttempt(ctx context.Context, name string, rec *recorder, again bool) error {
	if name == "" || len(name) > 36 {
		return invalidf("provisioning template name %q: must be 1 to 36 characters", excerpt(name))
	}
	if err := r.provisioning(); err != nil {
		return err
	}
	src, tgt, err := DescribeBoth(r.SourceProvisioning, r.TargetProvisioning, r.SourceRegion, r.TargetRegion,
		func(p ProvisioningSource) (*iot.DescribeProvisioningTemplateOutput, error) {
			return p.DescribeProvisioningTemplate(ctx, &iot.DescribeProvisioningTemplateInput{TemplateName: aws.String(name)})
		})
	if err != nil {
		return err
	}
	gone, missing := src == nil, tgt == nil
	if gone {
		if missing {
			return nil
		}
		return r.deleteTemplate(ctx, name, rec)
	}
	body := RewriteRegion(aws.ToString(src.TemplateBody), r.SourceRegion, r.TargetRegion)
	var hook *types.ProvisioningHook
	if h := src.PreProvisioningHook; h != nil {
		hook = &types.ProvisioningHook{TargetArn: aws.String(RewriteLambdaRegion(aws.ToString(h.TargetArn), r.SourceRegion, r.TargetRegion)), PayloadVersion: h.PayloadVersion}
	}
	if !missing && tgt.Type != src.Type {
		if err := r.deleteTemplate(ctx, name, rec); err != nil {
			return err
		}
		missing = true
	}
	if missing {
		_, err := r.TargetProvisioning.CreateProvisioningTemplate(ctx, &iot.CreateProvisioningTemplateInput{
			TemplateName: aws.String(name), TemplateBody: aws.String(body), Type: src.Type, Description: src.Description,
			Enabled: src.Enabled, ProvisioningRoleArn: src.ProvisioningRoleArn, PreProvisioningHook: hook,
		})
		if isAlreadyExists(err) && !again {
			return r.templateAttempt(ctx, name, rec, true)
		}
		if err != nil {
			return fmt.Errorf("create in %s: %w", r.TargetRegion, err)
		}
		rec.add("created provisioning template %s", name)
		return nil
	}
	if aws.ToString(tgt.TemplateBody) != body {
		if err := r.newTemplateVersion(ctx, name, body); err != nil {
			return err
		}
		rec.add("new default version of provisioning template %s", name)
	}
	up := &iot.UpdateProvisioningTemplateInput{TemplateName: aws.String(name)}
	changed := false
	if aws.ToString(tgt.Description) != aws.ToString(src.Description) {
		up.Description, changed = aws.String(aws.ToString(src.Description)), true
	}
	if aws.ToBool(tgt.Enabled) != aws.ToBool(src.Enabled) {
		up.Enabled, changed = aws.Bool(aws.ToBool(src.Enabled)), true
	}
	if aws.ToString(tgt.ProvisioningRoleArn) != aws.ToString(src.ProvisioningRoleArn) {
		up.ProvisioningRoleArn, changed = src.ProvisioningRoleArn, true
	}
	switch th := tgt.PreProvisioningHook; {
	case hook == nil && th != nil:
		up.RemovePreProvisioningHook, changed = aws.Bool(true), true
	case hook != nil && (th == nil || aws.ToString(th.TargetArn) != aws.ToString(hook.TargetArn) || aws.ToString(th.PayloadVersion) != aws.ToString(hook.PayloadVersion)):
		up.PreProvisioningHook, changed = hook, true
	}
	if !changed {
		return nil
	}
	if _, err := r.TargetProvisioning.UpdateProvisioningTemplate(ctx, up); err != nil {
		return fmt.Errorf("update in %s: %w", r.TargetRegion, err)
	}
	rec.add("updated provisioning template %s", name)
	return nil
}

func (r *Replicator) deleteTemplate(ctx context.Context, name string, rec *recorder) error {
	_, err := r.TargetProvisioning.DeleteProvisioningTemplate(ctx, &iot.DeleteProvisioningTemplateInput{TemplateName: aws.String(name)})
	if err != nil && !IsNotFound(err) {
		// A CA certificate's registration config still names it (DeleteConflict): the
		// CA's own converge moves it on, and this is retried.
		return fmt.Errorf("delete in %s: %w", r.TargetRegion, err)
	}
	rec.add("deleted provisioning template %s", name)
	return nil
}

// maxTemplateVersions is AWS's limit of versions per provisioning template.
const maxTemplateVersions = 5

func (r *Replicator) newTemplateVersion(ctx context.Context, name, body string) error {
	vs, err := r.TargetProvisioning.ListProvisioningTemplateVersions(ctx, &iot.ListProvisioningTemplateVersionsInput{TemplateName: aws.String(name)})
	if err != nil {
		return fmt.Errorf("list versions in %s: %w", r.TargetRegion, err)
	}
	if len(vs.Versions) >= maxTemplateVersions {
		oldest := int32(-1)
		for _, v := range vs.Versions {
			if !v.IsDefaultVersion && (oldest < 0 || aws.ToInt32(v.VersionId) < oldest) {
				oldest = aws.ToInt32(v.VersionId)
			}
		}
		if oldest >= 0 {
			_, err := r.TargetProvisioning.DeleteProvisioningTemplateVersion(ctx, &iot.DeleteProvisioningTemplateVersionInput{TemplateName: aws.String(name), VersionId: aws.Int32(oldest)})
			if err != nil && !IsNotFound(err) {
				return fmt.Errorf("delete version %d in %s: %w", oldest, r.TargetRegion, err)
			}
		}
	}
	_, err = r.TargetProvisioning.CreateProvisioningTemplateVersion(ctx, &iot.CreateProvisioningTemplateVersionInput{TemplateName: aws.String(name), TemplateBody: aws.String(body), SetAsDefault: true})
	if err != nil {
		return fmt.Errorf("create version in %s: %w", r.TargetRegion, err)
	}
	return nil
}

// ErrCAModeUnavailable says why a CA certificate the source holds in DEFAULT mode is
// registered in SNI_ONLY mode in the target: a DEFAULT registration needs a
// verification certificate signed by the CA's private key with the target account's
// registration code, and iot-dr never holds a CA's private key. Devices whose
// certificates the CA signed must then send SNI, which the failover domain's devices
// do. Register the CA in DEFAULT mode in the target yourself to keep it there: the
// replication then converges its status and configuration and leaves its mode.
var ErrCAModeUnavailable = errors.New("a DEFAULT-mode registration needs a verification certificate signed by the CA's private key, which iot-dr does not hold")

// CAModeNote is the change line of a CA registered in SNI_ONLY mode in place of the
// source's DEFAULT (see ErrCAModeUnavailable).
func CAModeNote(id string) string {
	return fmt.Sprintf("registered CA certificate %s in SNI_ONLY mode, not DEFAULT as in the source: %v", shortID(id), ErrCAModeUnavailable)
}

// CACertificate converges one CA certificate: registered in the target while the
// source has it (in SNI_ONLY mode, whatever the source's mode, since a DEFAULT
// registration needs what iot-dr does not hold; see ErrCAModeUnavailable), its
// status, auto-registration status and registration config (a JITP template by name,
// which must have been replicated first, or a body and role) made the source's; a
// CA the source no longer has is deactivated and deleted in the target. A CA the
// target already holds keeps its mode.
func (r *Replicator) CACertificate(ctx context.Context, id string) (Outcome, error) {
	rec := &recorder{}
	err := r.caCertificate(ctx, id, rec)
	return r.finish(ctx, "CA certificate", shortID(id), rec, 0, err)
}

func (r *Replicator) caCertificate(ctx context.Context, id string, rec *recorder) error {
	if len(id) != 64 {
		return invalidf("CA certificate id %q: must be 64 hex characters", excerpt(id))
	}
	if err := r.provisioning(); err != nil {
		return err
	}
	src, tgt, err := DescribeBoth(r.SourceProvisioning, r.TargetProvisioning, r.SourceRegion, r.TargetRegion,
		func(p ProvisioningSource) (*iot.DescribeCACertificateOutput, error) {
			return p.DescribeCACertificate(ctx, &iot.DescribeCACertificateInput{CertificateId: aws.String(id)})
		})
	if err != nil {
		return err
	}
	gone, missing := src == nil, tgt == nil
	if gone {
		if missing {
			return nil
		}
		if tgt.CertificateDescription != nil && tgt.CertificateDescription.Status == types.CACertificateStatusActive {
			if _, err := r.TargetProvisioning.UpdateCACertificate(ctx, &iot.UpdateCACertificateInput{CertificateId: aws.String(id), NewStatus: types.CACertificateStatusInactive}); err != nil && !IsNotFound(err) {
				return fmt.Errorf("deactivate in %s: %w", r.TargetRegion, err)
			}
		}
		if _, err := r.TargetProvisioning.DeleteCACertificate(ctx, &iot.DeleteCACertificateInput{CertificateId: aws.String(id)}); err != nil && !IsNotFound(err) {
			return fmt.Errorf("delete in %s: %w", r.TargetRegion, err)
		}
		rec.add("deleted CA certificate %s", shortID(id))
		return nil
	}
	want := src.CertificateDescription
	if want == nil {
		return fmt.Errorf("describe in %s: empty description", r.SourceRegion)
	}
	config := src.RegistrationConfig
	if config != nil && config.TemplateBody != nil {
		config = &types.RegistrationConfig{TemplateBody: aws.String(RewriteRegion(aws.ToString(config.TemplateBody), r.SourceRegion, r.TargetRegion)), RoleArn: config.RoleArn}
	}
	if config != nil && aws.ToString(config.TemplateName) != "" {
		name := aws.ToString(config.TemplateName)
		// The JITP template it names may cross after the CA (items cross in any
		// order): converge it first, from the same source.
		_, err := r.TargetProvisioning.DescribeProvisioningTemplate(ctx, &iot.DescribeProvisioningTemplateInput{TemplateName: aws.String(name)})
		if IsNotFound(err) {
			err = r.template(ctx, name, rec)
		}
		if err != nil {
			return fmt.Errorf("provisioning template %s of its registration config: %w", name, err)
		}
	}
	if missing {
		_, err := r.TargetProvisioning.RegisterCACertificate(ctx, &iot.RegisterCACertificateInput{
			CaCertificate: want.CertificatePem, CertificateMode: types.CertificateModeSniOnly,
			SetAsActive: want.Status == types.CACertificateStatusActive, AllowAutoRegistration: want.AutoRegistrationStatus == types.AutoRegistrationStatusEnable,
			RegistrationConfig: config,
		})
		if err != nil {
			return fmt.Errorf("register in %s: %w", r.TargetRegion, err)
		}
		if want.CertificateMode == types.CertificateModeSniOnly {
			rec.add("registered CA certificate %s", shortID(id))
		} else {
			rec.add("%s", CAModeNote(id))
		}
		return nil
	}
	have := tgt.CertificateDescription
	up := &iot.UpdateCACertificateInput{CertificateId: aws.String(id)}
	changed := false
	if have.Status != want.Status {
		up.NewStatus, changed = want.Status, true
	}
	if have.AutoRegistrationStatus != want.AutoRegistrationStatus {
		up.NewAutoRegistrationStatus, changed = want.AutoRegistrationStatus, true
	}
	if config != nil && !sameRegistrationConfig(config, tgt.RegistrationConfig) {
		up.RegistrationConfig, changed = config, true
	}
	if !changed {
		return nil
	}
	if _, err := r.TargetProvisioning.UpdateCACertificate(ctx, up); err != nil {
		return fmt.Errorf("update in %s: %w", r.TargetRegion, err)
	}
	rec.add("updated CA certificate %s", shortID(id))
	return nil
}

// sameRegistrationConfig reports whether two CA registration configs run the same
// template (absent members are empty).
func sameRegistrationConfig(a, b *types.RegistrationConfig) bool {
	if a == nil || b == nil {
		return a == b
	}
	return aws.ToString(a.TemplateName) == aws.ToString(b.TemplateName) && aws.ToString(a.TemplateBody) == aws.ToString(b.TemplateBody) &&
		aws.ToString(a.RoleArn) == aws.ToString(b.RoleArn)
}

// RoleAliasNames lists every role alias of c.
func RoleAliasNames(c iot.ListRoleAliasesAPIClient) NameLister {
	return func(ctx context.Context, yield func(string) error) error {
		p := iot.NewListRoleAliasesPaginator(c, &iot.ListRoleAliasesInput{AscendingOrder: true})
		return eachName(ctx, p, "role aliases", func(o *iot.ListRoleAliasesOutput) []string { return o.RoleAliases }, yield)
	}
}

// ProvisioningTemplateNames lists every provisioning template of c.
func ProvisioningTemplateNames(c iot.ListProvisioningTemplatesAPIClient) NameLister {
	return func(ctx context.Context, yield func(string) error) error {
		p := iot.NewListProvisioningTemplatesPaginator(c, &iot.ListProvisioningTemplatesInput{})
		return eachName(ctx, p, "provisioning templates", func(o *iot.ListProvisioningTemplatesOutput) []string {
			return namesOf(o.Templates, func(t types.ProvisioningTemplateSummary) *string { return t.TemplateName })
		}, yield)
	}
}

// CACertificateIDs lists the id of every CA certificate registered in c.
func CACertificateIDs(c iot.ListCACertificatesAPIClient) NameLister {
	return func(ctx context.Context, yield func(string) error) error {
		p := iot.NewListCACertificatesPaginator(c, &iot.ListCACertificatesInput{AscendingOrder: true})
		return eachName(ctx, p, "CA certificates", func(o *iot.ListCACertificatesOutput) []string {
			return namesOf(o.Certificates, func(c types.CACertificate) *string { return c.CertificateId })
		}, yield)
	}
}

// RoleAlias is Replicator.RoleAlias.
func (run *Run) RoleAlias(ctx context.Context, name string) (Outcome, error) {
	return run.r.RoleAlias(ctx, name)
}

// ProvisioningTemplate is Replicator.ProvisioningTemplate.
func (run *Run) ProvisioningTemplate(ctx context.Context, name string) (Outcome, error) {
	return run.r.ProvisioningTemplate(ctx, name)
}

// CACertificate is Replicator.CACertificate.
func (run *Run) CACertificate(ctx context.Context, id string) (Outcome, error) {
	return run.r.CACertificate(ctx, id)
}
