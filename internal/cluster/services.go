package cluster

import (
	"context"

	"github.com/moby/moby/client"
)

// ServiceClient is the Engine's service API with ServiceUpdate sending specs
// exactly as given (see ExactUpdater).
type ServiceClient struct {
	client.ServiceAPIClient
	exact *ExactUpdater
}

// ExactServices wraps api; see ExactUpdater for when the API version is read.
func ExactServices(api client.APIClient) ServiceClient {
	return ServiceClient{ServiceAPIClient: api, exact: NewExactUpdater(api)}
}

// ServiceUpdate sends the spec exactly as given.
func (c ServiceClient) ServiceUpdate(ctx context.Context, serviceID string, opts client.ServiceUpdateOptions) (client.ServiceUpdateResult, error) {
	return c.exact.ServiceUpdate(ctx, serviceID, opts)
}
