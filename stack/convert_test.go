package stack

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/compose-spec/compose-go/v2/types"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/mount"
	"github.com/moby/moby/api/types/swarm"
	"gotest.tools/v3/assert"
	is "gotest.tools/v3/assert/cmp"
)

// Cases ported from docker/cli's cli/compose/convert tests, on compose-go
// types, plus what compose-go adds.

func ptr[T any](v T) *T { return &v }

func TestConvertRestartPolicy(t *testing.T) {
	got, err := convertRestartPolicy("always", nil)
	assert.NilError(t, err)
	assert.Check(t, is.DeepEqual(got, &swarm.RestartPolicy{Condition: swarm.RestartPolicyConditionAny}))

	got, err = convertRestartPolicy("on-failure:3", nil)
	assert.NilError(t, err)
	assert.Check(t, is.DeepEqual(got, &swarm.RestartPolicy{Condition: swarm.RestartPolicyConditionOnFailure, MaxAttempts: ptr(uint64(3))}))

	got, err = convertRestartPolicy("no", nil)
	assert.NilError(t, err)
	assert.Check(t, got == nil)

	delay := types.Duration(5 * time.Second)
	got, err = convertRestartPolicy("always", &types.RestartPolicy{Condition: "on-failure", Delay: &delay, MaxAttempts: ptr(uint64(2))})
	assert.NilError(t, err)
	assert.Check(t, is.DeepEqual(got, &swarm.RestartPolicy{Condition: "on-failure", Delay: ptr(5 * time.Second), MaxAttempts: ptr(uint64(2))}), "deploy.restart_policy wins")

	_, err = convertRestartPolicy("sometimes", nil)
	assert.Check(t, is.ErrorContains(err, "sometimes"))
}

func TestConvertHealthcheck(t *testing.T) {
	got, err := convertHealthcheck(nil)
	assert.NilError(t, err)
	assert.Check(t, got == nil)

	iv, to := types.Duration(30*time.Second), types.Duration(5*time.Second)
	got, err = convertHealthcheck(&types.HealthCheckConfig{Test: []string{"CMD", "true"}, Interval: &iv, Timeout: &to, Retries: ptr(uint64(3))})
	assert.NilError(t, err)
	assert.Check(t, is.DeepEqual(got, &container.HealthConfig{Test: []string{"CMD", "true"}, Interval: 30 * time.Second, Timeout: 5 * time.Second, Retries: 3}))

	got, err = convertHealthcheck(&types.HealthCheckConfig{Disable: true})
	assert.NilError(t, err)
	assert.Check(t, is.DeepEqual(got, &container.HealthConfig{Test: []string{"NONE"}}))

	_, err = convertHealthcheck(&types.HealthCheckConfig{Disable: true, Test: []string{"CMD", "true"}})
	assert.Check(t, is.Error(err, "test and disable can't be set at the same time"))
}

func TestConvertEndpointSpec(t *testing.T) {
	got, err := convertEndpointSpec("VIP", []types.ServicePortConfig{
		{Protocol: "udp", Target: 53, Published: "1053", Mode: "host"},
		{Protocol: "tcp", Target: 80, Published: "8080", Mode: "ingress"},
		{Protocol: "tcp", Target: 443, Mode: "ingress"},
	})
	assert.NilError(t, err)
	// Sorted by swarm.PortConfig.Compare, as docker sorts them.
	assert.Check(t, is.DeepEqual(got, &swarm.EndpointSpec{Mode: "vip", Ports: []swarm.PortConfig{
		{Protocol: "tcp", TargetPort: 443, PublishMode: "ingress"},
		{Protocol: "udp", TargetPort: 53, PublishedPort: 1053, PublishMode: "host"},
		{Protocol: "tcp", TargetPort: 80, PublishedPort: 8080, PublishMode: "ingress"},
	}}))

	_, err = convertEndpointSpec("", []types.ServicePortConfig{{Target: 80, Published: "80-81"}})
	assert.Check(t, is.ErrorContains(err, `invalid published port "80-81"`))
}

func TestConvertEnvironment(t *testing.T) {
	got := convertEnvironment(types.MappingWithEquals{"b": ptr("2"), "a": ptr("1"), "pass": nil, "empty": ptr("")})
	assert.Check(t, is.DeepEqual(got, []string{"a=1", "b=2", "empty=", "pass"}))
}

func TestConvertDeployMode(t *testing.T) {
	cases := []struct {
		mode     string
		replicas *int
		want     swarm.ServiceMode
		err      string
	}{
		{"", nil, swarm.ServiceMode{Replicated: &swarm.ReplicatedService{}}, ""},
		{"replicated", ptr(3), swarm.ServiceMode{Replicated: &swarm.ReplicatedService{Replicas: ptr(uint64(3))}}, ""},
		{"global", nil, swarm.ServiceMode{Global: &swarm.GlobalService{}}, ""},
		{"global", ptr(2), swarm.ServiceMode{}, "replicas can only be used with replicated or replicated-job mode"},
		{"replicated-job", ptr(4), swarm.ServiceMode{ReplicatedJob: &swarm.ReplicatedJob{MaxConcurrent: ptr(uint64(4)), TotalCompletions: ptr(uint64(4))}}, ""},
		{"global-job", nil, swarm.ServiceMode{GlobalJob: &swarm.GlobalJob{}}, ""},
		{"global-job", ptr(1), swarm.ServiceMode{}, "replicas can only be used with replicated or replicated-job mode"},
		{"sideways", nil, swarm.ServiceMode{}, "unknown mode: sideways"},
		{"replicated", ptr(-1), swarm.ServiceMode{}, "deploy.replicas: must not be negative"},
	}
	for _, tc := range cases {
		got, err := convertDeployMode(tc.mode, tc.replicas)
		if tc.err != "" {
			assert.Check(t, is.ErrorContains(err, tc.err), tc.mode)
			continue
		}
		assert.Check(t, err, tc.mode)
		assert.Check(t, is.DeepEqual(got, tc.want), tc.mode)
	}
}

func TestConvertServiceNetworks(t *testing.T) {
	defs := types.Networks{
		"front":    {Name: "shop_front"},
		"outside":  {Name: "corp-net", External: true},
		"hostonly": {Name: "host"},
	}
	got, err := convertServiceNetworks(map[string]*types.ServiceNetworkConfig{
		"front":   {Aliases: []string{"www"}},
		"outside": nil,
	}, defs, "shop", "web")
	assert.NilError(t, err)
	assert.Check(t, is.DeepEqual(got, []swarm.NetworkAttachmentConfig{
		{Target: "corp-net", Aliases: []string{"web"}},
		{Target: "shop_front", Aliases: []string{"www", "web"}},
	}))

	got, err = convertServiceNetworks(nil, defs, "shop", "web")
	assert.NilError(t, err)
	assert.Check(t, is.DeepEqual(got, []swarm.NetworkAttachmentConfig{{Target: "shop_default", Aliases: []string{"web"}}}))

	got, err = convertServiceNetworks(map[string]*types.ServiceNetworkConfig{"hostonly": nil}, defs, "shop", "web")
	assert.NilError(t, err)
	assert.Check(t, is.DeepEqual(got, []swarm.NetworkAttachmentConfig{{Target: "host"}}), "no aliases on the host network")

	_, err = convertServiceNetworks(map[string]*types.ServiceNetworkConfig{"nope": nil}, defs, "shop", "web")
	assert.Check(t, is.Error(err, `undefined network "nope"`))
}

func TestConvertSecretAndConfigReferences(t *testing.T) {
	p := &types.Project{
		Secrets: types.Secrets{"db": {}, "named": {Name: "global_db"}},
		Configs: types.Configs{"conf": {}, "cred": {}},
	}
	secrets, err := convertSecretRefs(p, "shop", []types.ServiceSecretConfig{
		{Source: "named", Target: "other", UID: "10", GID: "20", Mode: ptr(types.FileMode(0o400))},
		{Source: "db", Target: "/run/secrets/db"},
	})
	assert.NilError(t, err)
	assert.Check(t, is.DeepEqual(secrets, []*swarm.SecretReference{
		{SecretName: "global_db", File: &swarm.SecretReferenceFileTarget{Name: "other", UID: "10", GID: "20", Mode: 0o400}},
		{SecretName: "shop_db", File: &swarm.SecretReferenceFileTarget{Name: "db", UID: "0", GID: "0", Mode: 0o444}},
	}))
	_, err = convertSecretRefs(p, "shop", []types.ServiceSecretConfig{{Source: "nope"}})
	assert.Check(t, is.Error(err, `undefined secret "nope"`))

	svc := types.ServiceConfig{}
	svc.Configs = []types.ServiceConfigObjConfig{{Source: "conf", Target: "/etc/app.conf"}}
	svc.CredentialSpec = &types.CredentialSpecConfig{Config: "cred"}
	configs, err := convertConfigRefs(p, "shop", svc)
	assert.NilError(t, err)
	assert.Check(t, is.DeepEqual(configs, []*swarm.ConfigReference{
		{ConfigName: "shop_conf", File: &swarm.ConfigReferenceFileTarget{Name: "/etc/app.conf", UID: "0", GID: "0", Mode: 0o444}},
		{ConfigName: "shop_cred", Runtime: &swarm.ConfigReferenceRuntimeTarget{}},
	}))
}

func TestConvertCredentialSpec(t *testing.T) {
	got, err := convertCredentialSpec(&types.CredentialSpecConfig{File: "spec.json"})
	assert.NilError(t, err)
	assert.Check(t, is.DeepEqual(got, &swarm.CredentialSpec{File: "spec.json"}))
	_, err = convertCredentialSpec(&types.CredentialSpecConfig{File: "a", Registry: "b"})
	assert.Check(t, is.Error(err, `invalid credential spec: cannot specify both "File" and "Registry"`))
}

func TestConvertResources(t *testing.T) {
	got, err := convertResources(types.Resources{
		Limits:       &types.Resource{NanoCPUs: 0.5, MemoryBytes: 64 << 20, Pids: 100},
		Reservations: &types.Resource{NanoCPUs: 0.1, MemoryBytes: 32 << 20, GenericResources: []types.GenericResource{{DiscreteResourceSpec: &types.DiscreteGenericResource{Kind: "gpu", Value: 2}}}},
	})
	assert.NilError(t, err)
	assert.Check(t, is.DeepEqual(got, &swarm.ResourceRequirements{
		Limits: &swarm.Limit{NanoCPUs: 500000000, MemoryBytes: 64 << 20, Pids: 100},
		Reservations: &swarm.Resources{NanoCPUs: 100000000, MemoryBytes: 32 << 20, GenericResources: []swarm.GenericResource{
			{DiscreteResourceSpec: &swarm.DiscreteGenericResource{Kind: "gpu", Value: 2}},
		}},
	}), "0.1 CPU is exactly 100000000, not float32's 100000001")
}

func TestConvertUpdateConfig(t *testing.T) {
	assert.Check(t, convertUpdateConfig(nil) == nil)
	got := convertUpdateConfig(&types.UpdateConfig{Delay: types.Duration(time.Second), Order: "start-first"})
	assert.Check(t, is.DeepEqual(got, &swarm.UpdateConfig{Parallelism: 1, Delay: time.Second, Order: "start-first"}), "parallelism defaults to 1")
}

func TestConvertUlimitsAndHosts(t *testing.T) {
	got := convertUlimits(map[string]*types.UlimitsConfig{"nproc": {Single: 512}, "nofile": {Soft: 1024, Hard: 2048}})
	assert.Check(t, is.DeepEqual(got, []*container.Ulimit{{Name: "nofile", Soft: 1024, Hard: 2048}, {Name: "nproc", Soft: 512, Hard: 512}}))
	hosts := convertExtraHosts(types.HostsList{"db": {"10.0.0.2"}, "api": {"10.0.0.3", "::1"}})
	assert.Check(t, is.DeepEqual(hosts, []string{"10.0.0.2 db", "10.0.0.3 api", "::1 api"}))
}

func TestConvertVolumes(t *testing.T) {
	defs := types.Volumes{
		"data":   {Name: "shop_data", Labels: types.Labels{"tier": "db"}, Driver: "local", DriverOpts: types.Options{"type": "nfs"}},
		"shared": {Name: "shared-vol", External: true},
	}
	got, err := convertVolumes([]types.ServiceVolumeConfig{
		{Type: "volume", Target: "/anon"},
		{Type: "volume", Source: "data", Target: "/data", Volume: &types.ServiceVolumeVolume{NoCopy: true}},
		{Type: "volume", Source: "shared", Target: "/shared", ReadOnly: true},
		{Type: "bind", Source: "/srv", Target: "/srv", Bind: &types.ServiceVolumeBind{Propagation: "rshared"}},
		{Type: "tmpfs", Target: "/tmp", Tmpfs: &types.ServiceVolumeTmpfs{Size: 1 << 20}},
	}, defs, "shop")
	assert.NilError(t, err)
	assert.Check(t, is.DeepEqual(got, []mount.Mount{
		{Type: "volume", Target: "/anon"},
		{Type: "volume", Source: "shop_data", Target: "/data", VolumeOptions: &mount.VolumeOptions{
			NoCopy: true, Labels: map[string]string{"tier": "db", "com.docker.stack.namespace": "shop"},
			DriverConfig: &mount.Driver{Name: "local", Options: map[string]string{"type": "nfs"}},
		}},
		{Type: "volume", Source: "shared-vol", Target: "/shared", ReadOnly: true, VolumeOptions: &mount.VolumeOptions{}},
		{Type: "bind", Source: "/srv", Target: "/srv", BindOptions: &mount.BindOptions{Propagation: "rshared"}},
		{Type: "tmpfs", Target: "/tmp", TmpfsOptions: &mount.TmpfsOptions{SizeBytes: 1 << 20}},
	}))

	for _, tc := range []struct {
		v    types.ServiceVolumeConfig
		want string
	}{
		{types.ServiceVolumeConfig{Type: "volume", Source: "nope", Target: "/x"}, `undefined volume "nope"`},
		{types.ServiceVolumeConfig{Type: "bind", Target: "/x"}, "invalid bind source, source cannot be empty"},
		{types.ServiceVolumeConfig{Type: "tmpfs", Source: "x", Target: "/x"}, "invalid tmpfs source, source must be empty"},
		{types.ServiceVolumeConfig{Type: "volume", Source: "data", Target: "/x", Bind: &types.ServiceVolumeBind{}}, "bind options are incompatible with type volume"},
		{types.ServiceVolumeConfig{Type: "tmpfs", Target: "/x", Volume: &types.ServiceVolumeVolume{}}, "volume options are incompatible with type tmpfs"},
		{types.ServiceVolumeConfig{Type: "weird", Target: "/x"}, "volume type must be"},
	} {
		_, err := convertVolumes([]types.ServiceVolumeConfig{tc.v}, defs, "shop")
		assert.Check(t, is.ErrorContains(err, tc.want))
	}
}

func TestConvertSecretsAndConfigs(t *testing.T) {
	dir := t.TempDir()
	assert.NilError(t, os.WriteFile(filepath.Join(dir, "pw"), []byte("hunter2"), 0o600))
	p := &types.Project{
		ComposeFiles: []string{filepath.Join(dir, "compose.yml")},
		Environment:  types.Mapping{"TOKEN": "from-env"},
		Secrets: types.Secrets{
			"file":     {File: filepath.Join(dir, "pw"), Labels: types.Labels{"a": "b"}},
			"env":      {Environment: "TOKEN"},
			"external": {External: true, Name: "shared"},
			"vault":    {Driver: "vault", DriverOpts: map[string]string{"path": "x"}},
		},
		Configs: types.Configs{
			"inline": {Content: "debug=1", TemplateDriver: "golang"},
		},
	}
	res, err := Convert(p, "shop")
	assert.NilError(t, err)
	assert.Check(t, is.DeepEqual(res.Secrets, []swarm.SecretSpec{
		{Annotations: swarm.Annotations{Name: "shop_env", Labels: map[string]string{"com.docker.stack.namespace": "shop"}}, Data: []byte("from-env")},
		{Annotations: swarm.Annotations{Name: "shop_file", Labels: map[string]string{"a": "b", "com.docker.stack.namespace": "shop"}}, Data: []byte("hunter2")},
		{Annotations: swarm.Annotations{Name: "shop_vault", Labels: map[string]string{"com.docker.stack.namespace": "shop"}}, Data: []byte{}, Driver: &swarm.Driver{Name: "vault", Options: map[string]string{"path": "x"}}},
	}))
	assert.Check(t, is.DeepEqual(res.Configs, []swarm.ConfigSpec{
		{Annotations: swarm.Annotations{Name: "shop_inline", Labels: map[string]string{"com.docker.stack.namespace": "shop"}}, Data: []byte("debug=1"), Templating: &swarm.Driver{Name: "golang"}},
	}))

	p.Secrets["unset"] = types.SecretConfig{Environment: "NOT_SET"}
	_, err = Convert(p, "shop")
	assert.Check(t, is.Error(err, "compose.yml: secrets.unset.environment: variable NOT_SET is not set"))
}
