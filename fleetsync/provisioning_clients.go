package fleetsync

// Code below is mechanical: one method per API, each paced and retried by do.

import (
	"context"
	"errors"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/service/iot"

	"github.com/iot-dr/iot-dr/functions/replication"
)

// ErrProvisioningUnsupported says the endpoint serves no role aliases, provisioning
// templates or CA certificates.
var ErrProvisioningUnsupported = errors.New("role aliases, provisioning templates and CA certificates not supported by this endpoint")

var _ replication.Provisioning = (*LimitedIoT)(nil)

// provisioning returns Next as the onboarding kinds' client (*iot.Client is one).
func (c *LimitedIoT) provisioning() (replication.Provisioning, error) {
	p, ok := c.Next.(replication.Provisioning)
	if !ok {
		return nil, fmt.Errorf("%s: %w", c.Limiter.Region(), ErrProvisioningUnsupported)
	}
	return p, nil
}

// DescribeRoleAlias calls Next.DescribeRoleAlias under the limiter.
func (c *LimitedIoT) DescribeRoleAlias(ctx context.Context, in *iot.DescribeRoleAliasInput, optFns ...func(*iot.Options)) (*iot.DescribeRoleAliasOutput, error) {
	p, err := c.provisioning()
	if err != nil {
		return nil, err
	}
	return do(ctx, c.Limiter, "DescribeRoleAlias", func() (*iot.DescribeRoleAliasOutput, error) { return p.DescribeRoleAlias(ctx, in, optFns...) })
}

// ListRoleAliases calls Next.ListRoleAliases under the limiter.
func (c *LimitedIoT) ListRoleAliases(ctx context.Context, in *iot.ListRoleAliasesInput, optFns ...func(*iot.Options)) (*iot.ListRoleAliasesOutput, error) {
	p, err := c.provisioning()
	if err != nil {
		return nil, err
	}
	return do(ctx, c.Limiter, "ListRoleAliases", func() (*iot.ListRoleAliasesOutput, error) { return p.ListRoleAliases(ctx, in, optFns...) })
}

// CreateRoleAlias calls Next.CreateRoleAlias under the limiter.
func (c *LimitedIoT) CreateRoleAlias(ctx context.Context, in *iot.CreateRoleAliasInput, optFns ...func(*iot.Options)) (*iot.CreateRoleAliasOutput, error) {
	p, err := c.provisioning()
	if err != nil {
		return nil, err
	}
	return do(ctx, c.Limiter, "CreateRoleAlias", func() (*iot.CreateRoleAliasOutput, error) { return p.CreateRoleAlias(ctx, in, optFns...) })
}

// UpdateRoleAlias calls Next.UpdateRoleAlias under the limiter.
func (c *LimitedIoT) UpdateRoleAlias(ctx context.Context, in *iot.UpdateRoleAliasInput, optFns ...func(*iot.Options)) (*iot.UpdateRoleAliasOutput, error) {
	p, err := c.provisioning()
	if err != nil {
		return nil, err
	}
	return do(ctx, c.Limiter, "UpdateRoleAlias", func() (*iot.UpdateRoleAliasOutput, error) { return p.UpdateRoleAlias(ctx, in, optFns...) })
}

// DeleteRoleAlias calls Next.DeleteRoleAlias under the limiter.
func (c *LimitedIoT) DeleteRoleAlias(ctx context.Context, in *iot.DeleteRoleAliasInput, optFns ...func(*iot.Options)) (*iot.DeleteRoleAliasOutput, error) {
	p, err := c.provisioning()
	if err != nil {
		return nil, err
	}
	return do(ctx, c.Limiter, "DeleteRoleAlias", func() (*iot.DeleteRoleAliasOutput, error) { return p.DeleteRoleAlias(ctx, in, optFns...) })
}

// DescribeProvisioningTemplate calls Next.DescribeProvisioningTemplate under the limiter.
func (c *LimitedIoT) DescribeProvisioningTemplate(ctx context.Context, in *iot.DescribeProvisioningTemplateInput, optFns ...func(*iot.Options)) (*iot.DescribeProvisioningTemplateOutput, error) {
	p, err := c.provisioning()
	if err != nil {
		return nil, err
	}
	return do(ctx, c.Limiter, "DescribeProvisioningTemplate", func() (*iot.DescribeProvisioningTemplateOutput, error) {
		return p.DescribeProvisioningTemplate(ctx, in, optFns...)
	})
}

// ListProvisioningTemplates calls Next.ListProvisioningTemplates under the limiter.
func (c *LimitedIoT) ListProvisioningTemplates(ctx context.Context, in *iot.ListProvisioningTemplatesInput, optFns ...func(*iot.Options)) (*iot.ListProvisioningTemplatesOutput, error) {
	p, err := c.provisioning()
	if err != nil {
		return nil, err
	}
	return do(ctx, c.Limiter, "ListProvisioningTemplates", func() (*iot.ListProvisioningTemplatesOutput, error) {
		return p.ListProvisioningTemplates(ctx, in, optFns...)
	})
}

// CreateProvisioningTemplate calls Next.CreateProvisioningTemplate under the limiter.
func (c *LimitedIoT) CreateProvisioningTemplate(ctx context.Context, in *iot.CreateProvisioningTemplateInput, optFns ...func(*iot.Options)) (*iot.CreateProvisioningTemplateOutput, error) {
	p, err := c.provisioning()
	if err != nil {
		return nil, err
	}
	return do(ctx, c.Limiter, "CreateProvisioningTemplate", func() (*iot.CreateProvisioningTemplateOutput, error) {
		return p.CreateProvisioningTemplate(ctx, in, optFns...)
	})
}

// UpdateProvisioningTemplate calls Next.UpdateProvisioningTemplate under the limiter.
func (c *LimitedIoT) UpdateProvisioningTemplate(ctx context.Context, in *iot.UpdateProvisioningTemplateInput, optFns ...func(*iot.Options)) (*iot.UpdateProvisioningTemplateOutput, error) {
	p, err := c.provisioning()
	if err != nil {
		return nil, err
	}
	return do(ctx, c.Limiter, "UpdateProvisioningTemplate", func() (*iot.UpdateProvisioningTemplateOutput, error) {
		return p.UpdateProvisioningTemplate(ctx, in, optFns...)
	})
}

// DeleteProvisioningTemplate calls Next.DeleteProvisioningTemplate under the limiter.
func (c *LimitedIoT) DeleteProvisioningTemplate(ctx context.Context, in *iot.DeleteProvisioningTemplateInput, optFns ...func(*iot.Options)) (*iot.DeleteProvisioningTemplateOutput, error) {
	p, err := c.provisioning()
	if err != nil {
		return nil, err
	}
	return do(ctx, c.Limiter, "DeleteProvisioningTemplate", func() (*iot.DeleteProvisioningTemplateOutput, error) {
		return p.DeleteProvisioningTemplate(ctx, in, optFns...)
	})
}

// CreateProvisioningTemplateVersion calls Next.CreateProvisioningTemplateVersion under the limiter.
func (c *LimitedIoT) CreateProvisioningTemplateVersion(ctx context.Context, in *iot.CreateProvisioningTemplateVersionInput, optFns ...func(*iot.Options)) (*iot.CreateProvisioningTemplateVersionOutput, error) {
	p, err := c.provisioning()
	if err != nil {
		return nil, err
	}
	return do(ctx, c.Limiter, "CreateProvisioningTemplateVersion", func() (*iot.CreateProvisioningTemplateVersionOutput, error) {
		return p.CreateProvisioningTemplateVersion(ctx, in, optFns...)
	})
}

// ListProvisioningTemplateVersions calls Next.ListProvisioningTemplateVersions under the limiter.
func (c *LimitedIoT) ListProvisioningTemplateVersions(ctx context.Context, in *iot.ListProvisioningTemplateVersionsInput, optFns ...func(*iot.Options)) (*iot.ListProvisioningTemplateVersionsOutput, error) {
	p, err := c.provisioning()
	if err != nil {
		return nil, err
	}
	return do(ctx, c.Limiter, "ListProvisioningTemplateVersions", func() (*iot.ListProvisioningTemplateVersionsOutput, error) {
		return p.ListProvisioningTemplateVersions(ctx, in, optFns...)
	})
}

// DeleteProvisioningTemplateVersion calls Next.DeleteProvisioningTemplateVersion under the limiter.
func (c *LimitedIoT) DeleteProvisioningTemplateVersion(ctx context.Context, in *iot.DeleteProvisioningTemplateVersionInput, optFns ...func(*iot.Options)) (*iot.DeleteProvisioningTemplateVersionOutput, error) {
	p, err := c.provisioning()
	if err != nil {
		return nil, err
	}
	return do(ctx, c.Limiter, "DeleteProvisioningTemplateVersion", func() (*iot.DeleteProvisioningTemplateVersionOutput, error) {
		return p.DeleteProvisioningTemplateVersion(ctx, in, optFns...)
	})
}

// DescribeCACertificate calls Next.DescribeCACertificate under the limiter.
func (c *LimitedIoT) DescribeCACertificate(ctx context.Context, in *iot.DescribeCACertificateInput, optFns ...func(*iot.Options)) (*iot.DescribeCACertificateOutput, error) {
	p, err := c.provisioning()
	if err != nil {
		return nil, err
	}
	return do(ctx, c.Limiter, "DescribeCACertificate", func() (*iot.DescribeCACertificateOutput, error) { return p.DescribeCACertificate(ctx, in, optFns...) })
}

// ListCACertificates calls Next.ListCACertificates under the limiter.
func (c *LimitedIoT) ListCACertificates(ctx context.Context, in *iot.ListCACertificatesInput, optFns ...func(*iot.Options)) (*iot.ListCACertificatesOutput, error) {
	p, err := c.provisioning()
	if err != nil {
		return nil, err
	}
	return do(ctx, c.Limiter, "ListCACertificates", func() (*iot.ListCACertificatesOutput, error) { return p.ListCACertificates(ctx, in, optFns...) })
}

// RegisterCACertificate calls Next.RegisterCACertificate under the limiter.
func (c *LimitedIoT) RegisterCACertificate(ctx context.Context, in *iot.RegisterCACertificateInput, optFns ...func(*iot.Options)) (*iot.RegisterCACertificateOutput, error) {
	p, err := c.provisioning()
	if err != nil {
		return nil, err
	}
	return do(ctx, c.Limiter, "RegisterCACertificate", func() (*iot.RegisterCACertificateOutput, error) { return p.RegisterCACertificate(ctx, in, optFns...) })
}

// UpdateCACertificate calls Next.UpdateCACertificate under the limiter.
func (c *LimitedIoT) UpdateCACertificate(ctx context.Context, in *iot.UpdateCACertificateInput, optFns ...func(*iot.Options)) (*iot.UpdateCACertificateOutput, error) {
	p, err := c.provisioning()
	if err != nil {
		return nil, err
	}
	return do(ctx, c.Limiter, "UpdateCACertificate", func() (*iot.UpdateCACertificateOutput, error) { return p.UpdateCACertificate(ctx, in, optFns...) })
}

// DeleteCACertificate calls Next.DeleteCACertificate under the limiter.
func (c *LimitedIoT) DeleteCACertificate(ctx context.Context, in *iot.DeleteCACertificateInput, optFns ...func(*iot.Options)) (*iot.DeleteCACertificateOutput, error) {
	p, err := c.provisioning()
	if err != nil {
		return nil, err
	}
	return do(ctx, c.Limiter, "DeleteCACertificate", func() (*iot.DeleteCACertificateOutput, error) { return p.DeleteCACertificate(ctx, in, optFns...) })
}
