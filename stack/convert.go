package stack

import (
	"cmp"
	"errors"
	"fmt"
	"maps"
	"net/netip"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/compose-spec/compose-go/v2/types"
	"github.com/docker/cli/opts"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/network"
	"github.com/moby/moby/api/types/swarm"
	"github.com/moby/moby/client"
	"github.com/swarmauth/swarmauth/internal/cluster"
)

// LabelImage is docker's label holding the image as the compose file names it
// (before digest pinning); `--resolve-image changed` compares with it.
const LabelImage = "com.docker.stack.image"

// Resources is a stack converted to swarm objects, as `docker stack deploy`
// converts it. Service specs name their secrets and configs; the IDs are
// filled in at deploy time, once the objects exist.
type Resources struct {
	Namespace        string
	Networks         map[string]client.NetworkCreateOptions // by full name
	ExternalNetworks []string
	Secrets          []swarm.SecretSpec
	Configs          []swarm.ConfigSpec
	Services         []Service // sorted by name
}

// Service is one converted service.
type Service struct {
	Key          string // the compose key
	Spec         swarm.ServiceSpec
	RegistryAuth string // x-swarmauth registry-auth, "" when not set
}

// scope names an object of the stack, as docker does.
func scope(namespace, name string) string { return namespace + "_" + name }

func withStackLabel(namespace string, labels map[string]string) map[string]string {
	out := maps.Clone(labels)
	if out == nil {
		out = map[string]string{}
	}
	out[cluster.LabelStackNamespace] = namespace
	return out
}

// Convert turns a loaded project into the stack's swarm objects. It reads the
// files secrets and configs name, and nothing else: no swarm is asked.
// Errors name the compose files and the field.
func Convert(p *types.Project, namespace string) (*Resources, error) {
	r, err := convert(p, namespace)
	if err != nil {
		return nil, inFiles(p.ComposeFiles, err)
	}
	return r, nil
}

func convert(p *types.Project, namespace string) (*Resources, error) {
	r := &Resources{Namespace: namespace}
	var err error
	if r.Networks, r.ExternalNetworks, err = convertNetworks(p, namespace); err != nil {
		return nil, err
	}
	if r.Secrets, err = convertSecrets(p, namespace); err != nil {
		return nil, err
	}
	if r.Configs, err = convertConfigs(p, namespace); err != nil {
		return nil, err
	}
	for _, key := range slices.Sorted(maps.Keys(p.Services)) {
		svc := p.Services[key]
		spec, err := convertService(p, namespace, svc)
		if err != nil {
			return nil, fmt.Errorf("services.%s: %w", key, err)
		}
		s := Service{Key: key, Spec: spec}
		if ext, ok := svc.Extensions[ExtensionKey].(Extension); ok {
			s.RegistryAuth = ext.RegistryAuth
		}
		r.Services = append(r.Services, s)
	}
	return r, nil
}

func convertNetworks(p *types.Project, namespace string) (map[string]client.NetworkCreateOptions, []string, error) {
	used := map[string]bool{}
	for _, svc := range p.Services {
		if len(svc.Networks) == 0 {
			used["default"] = true
		}
		for n := range svc.Networks {
			used[n] = true
		}
	}
	result := map[string]client.NetworkCreateOptions{}
	var external []string
	for _, key := range slices.Sorted(maps.Keys(used)) {
		nw := p.Networks[key]
		if nw.External {
			external = append(external, nw.Name)
			continue
		}
		create := client.NetworkCreateOptions{
			Labels:     withStackLabel(namespace, nw.Labels),
			Driver:     nw.Driver,
			Options:    nw.DriverOpts,
			Internal:   nw.Internal,
			Attachable: nw.Attachable,
		}
		if create.Driver == "" {
			create.Driver = "overlay"
		}
		if nw.Ipam.Driver != "" || len(nw.Ipam.Config) > 0 {
			create.IPAM = &network.IPAM{Driver: nw.Ipam.Driver}
			for _, pool := range nw.Ipam.Config {
				sn, err := netip.ParsePrefix(pool.Subnet)
				if err != nil {
					return nil, nil, fmt.Errorf("networks.%s.ipam.config.subnet: %w", key, err)
				}
				create.IPAM.Config = append(create.IPAM.Config, network.IPAMConfig{Subnet: sn})
			}
		}
		name := nw.Name
		if name == "" {
			name = scope(namespace, key)
		}
		result[name] = create
	}
	return result, external, nil
}

// fileObject is the common shape of secrets and configs.
type fileObject struct {
	spec swarm.Annotations
	data []byte
}

func readFileObject(p *types.Project, namespace, kind, key string, obj types.FileObjectConfig) (fileObject, error) {
	name := obj.Name
	if name == "" {
		name = scope(namespace, key)
	}
	fo := fileObject{spec: swarm.Annotations{Name: name, Labels: withStackLabel(namespace, obj.Labels)}}
	switch {
	case obj.Driver != "":
		fo.data = []byte{}
	case obj.File != "":
		data, err := os.ReadFile(obj.File)
		if err != nil {
			return fo, fmt.Errorf("%s.%s.file: %w", kind, key, err)
		}
		fo.data = data
	case obj.Environment != "":
		v, ok := p.Environment[obj.Environment]
		if obj.Content != "" {
			v, ok = obj.Content, true
		}
		if !ok {
			return fo, fmt.Errorf("%s.%s.environment: variable %s is not set", kind, key, obj.Environment)
		}
		fo.data = []byte(v)
	default:
		fo.data = []byte(obj.Content)
	}
	return fo, nil
}

func convertSecrets(p *types.Project, namespace string) ([]swarm.SecretSpec, error) {
	var out []swarm.SecretSpec
	for _, key := range slices.Sorted(maps.Keys(p.Secrets)) {
		s := p.Secrets[key]
		if s.External {
			continue
		}
		fo, err := readFileObject(p, namespace, "secrets", key, types.FileObjectConfig(s))
		if err != nil {
			return nil, err
		}
		spec := swarm.SecretSpec{Annotations: fo.spec, Data: fo.data}
		if s.Driver != "" {
			spec.Driver = &swarm.Driver{Name: s.Driver, Options: s.DriverOpts}
		}
		if s.TemplateDriver != "" {
			spec.Templating = &swarm.Driver{Name: s.TemplateDriver}
		}
		out = append(out, spec)
	}
	return out, nil
}

func convertConfigs(p *types.Project, namespace string) ([]swarm.ConfigSpec, error) {
	var out []swarm.ConfigSpec
	for _, key := range slices.Sorted(maps.Keys(p.Configs)) {
		c := p.Configs[key]
		if c.External {
			continue
		}
		fo, err := readFileObject(p, namespace, "configs", key, types.FileObjectConfig(c))
		if err != nil {
			return nil, err
		}
		spec := swarm.ConfigSpec{Annotations: fo.spec, Data: fo.data}
		if c.TemplateDriver != "" {
			spec.Templating = &swarm.Driver{Name: c.TemplateDriver}
		}
		out = append(out, spec)
	}
	return out, nil
}

func convertService(p *types.Project, namespace string, svc types.ServiceConfig) (swarm.ServiceSpec, error) {
	deploy := types.DeployConfig{}
	if svc.Deploy != nil {
		deploy = *svc.Deploy
	}
	endpoint, err := convertEndpointSpec(deploy.EndpointMode, svc.Ports)
	if err != nil {
		return swarm.ServiceSpec{}, err
	}
	mode, err := convertDeployMode(deploy.Mode, deploy.Replicas)
	if err != nil {
		return swarm.ServiceSpec{}, err
	}
	mounts, err := convertVolumes(svc.Volumes, p.Volumes, namespace)
	if err != nil {
		return swarm.ServiceSpec{}, err
	}
	resources, err := convertResources(deploy.Resources)
	if err != nil {
		return swarm.ServiceSpec{}, err
	}
	restartPolicy, err := convertRestartPolicy(svc.Restart, deploy.RestartPolicy)
	if err != nil {
		return swarm.ServiceSpec{}, err
	}
	healthcheck, err := convertHealthcheck(svc.HealthCheck)
	if err != nil {
		return swarm.ServiceSpec{}, err
	}
	networks, err := convertServiceNetworks(svc.Networks, p.Networks, namespace, svc.Name)
	if err != nil {
		return swarm.ServiceSpec{}, err
	}
	secrets, err := convertSecretRefs(p, namespace, svc.Secrets)
	if err != nil {
		return swarm.ServiceSpec{}, err
	}
	configs, err := convertConfigRefs(p, namespace, svc)
	if err != nil {
		return swarm.ServiceSpec{}, err
	}
	var privileges swarm.Privileges
	if privileges.CredentialSpec, err = convertCredentialSpec(svc.CredentialSpec); err != nil {
		return swarm.ServiceSpec{}, err
	}
	var logDriver *swarm.Driver
	if svc.Logging != nil {
		logDriver = &swarm.Driver{Name: svc.Logging.Driver, Options: svc.Logging.Options}
	}
	capAdd, capDrop := opts.EffectiveCapAddCapDrop(svc.CapAdd, svc.CapDrop)
	var stopGrace *time.Duration
	if svc.StopGracePeriod != nil {
		d := time.Duration(*svc.StopGracePeriod)
		stopGrace = &d
	}

	spec := swarm.ServiceSpec{
		Annotations: swarm.Annotations{
			Name:   scope(namespace, svc.Name),
			Labels: withStackLabel(namespace, deploy.Labels),
		},
		TaskTemplate: swarm.TaskSpec{
			ContainerSpec: &swarm.ContainerSpec{
				Image:           svc.Image,
				Command:         svc.Entrypoint,
				Args:            svc.Command,
				Hostname:        svc.Hostname,
				Hosts:           convertExtraHosts(svc.ExtraHosts),
				DNSConfig:       convertDNSConfig(svc.DNS, svc.DNSSearch, svc.DNSOpts),
				Healthcheck:     healthcheck,
				Env:             convertEnvironment(svc.Environment),
				Labels:          withStackLabel(namespace, svc.Labels),
				Dir:             svc.WorkingDir,
				User:            svc.User,
				Mounts:          mounts,
				StopGracePeriod: stopGrace,
				StopSignal:      svc.StopSignal,
				TTY:             svc.Tty,
				OpenStdin:       svc.StdinOpen,
				Secrets:         secrets,
				Configs:         configs,
				ReadOnly:        svc.ReadOnly,
				Privileges:      &privileges,
				Isolation:       container.Isolation(svc.Isolation),
				Init:            svc.Init,
				Sysctls:         svc.Sysctls,
				CapabilityAdd:   capAdd,
				CapabilityDrop:  capDrop,
				Ulimits:         convertUlimits(svc.Ulimits),
				OomScoreAdj:     svc.OomScoreAdj,
			},
			LogDriver:     logDriver,
			Resources:     resources,
			RestartPolicy: restartPolicy,
			Placement: &swarm.Placement{
				Constraints: deploy.Placement.Constraints,
				Preferences: convertPlacementPreferences(deploy.Placement.Preferences),
				MaxReplicas: deploy.Placement.MaxReplicas,
			},
			Networks: networks,
		},
		EndpointSpec:   endpoint,
		Mode:           mode,
		UpdateConfig:   convertUpdateConfig(deploy.UpdateConfig),
		RollbackConfig: convertUpdateConfig(deploy.RollbackConfig),
	}
	spec.Labels[LabelImage] = svc.Image
	return spec, nil
}

func convertPlacementPreferences(prefs []types.PlacementPreferences) []swarm.PlacementPreference {
	if len(prefs) == 0 {
		return nil
	}
	out := make([]swarm.PlacementPreference, 0, len(prefs))
	for _, p := range prefs {
		out = append(out, swarm.PlacementPreference{Spread: &swarm.SpreadOver{SpreadDescriptor: p.Spread}})
	}
	return out
}

func convertServiceNetworks(nets map[string]*types.ServiceNetworkConfig, defs types.Networks, namespace, service string) ([]swarm.NetworkAttachmentConfig, error) {
	if len(nets) == 0 {
		nets = map[string]*types.ServiceNetworkConfig{"default": nil}
	}
	out := make([]swarm.NetworkAttachmentConfig, 0, len(nets))
	for key, nw := range nets {
		def, ok := defs[key]
		if !ok && key != "default" {
			return nil, fmt.Errorf("undefined network %q", key)
		}
		target := scope(namespace, key)
		if def.Name != "" {
			target = def.Name
		}
		att := swarm.NetworkAttachmentConfig{Target: target}
		if nw != nil {
			att.Aliases = slices.Clone(nw.Aliases)
			att.DriverOpts = nw.DriverOpts
		}
		// Only user-defined networks take aliases; the service name is one.
		if container.NetworkMode(target).IsUserDefined() {
			att.Aliases = append(att.Aliases, service)
		}
		out = append(out, att)
	}
	slices.SortFunc(out, func(a, b swarm.NetworkAttachmentConfig) int { return cmp.Compare(a.Target, b.Target) })
	return out, nil
}

// fileTarget is the target, owner and mode of a secret or config in a task.
func fileTarget(ref types.FileReferenceConfig) (name, uid, gid string, mode os.FileMode) {
	name, uid, gid, mode = ref.Target, ref.UID, ref.GID, 0o444
	if name == "" {
		name = ref.Source
	}
	if uid == "" {
		uid = "0"
	}
	if gid == "" {
		gid = "0"
	}
	if ref.Mode != nil {
		mode = os.FileMode(*ref.Mode)
	}
	return name, uid, gid, mode
}

func objectName(namespace, key, explicit string) string {
	if explicit != "" {
		return explicit
	}
	return scope(namespace, key)
}

// secretsDir is where swarm mounts secrets with a relative target.
const secretsDir = "/run/secrets/"

func convertSecretRefs(p *types.Project, namespace string, refs []types.ServiceSecretConfig) ([]*swarm.SecretReference, error) {
	out := make([]*swarm.SecretReference, 0, len(refs))
	for _, ref := range refs {
		def, ok := p.Secrets[ref.Source]
		if !ok {
			return nil, fmt.Errorf("undefined secret %q", ref.Source)
		}
		name, uid, gid, mode := fileTarget(types.FileReferenceConfig(ref))
		// compose-go spells the default target /run/secrets/<name>; docker
		// and swarm keep it relative to /run/secrets. Same file, same spec.
		name = strings.TrimPrefix(name, secretsDir)
		out = append(out, &swarm.SecretReference{
			File:       &swarm.SecretReferenceFileTarget{Name: name, UID: uid, GID: gid, Mode: mode},
			SecretName: objectName(namespace, ref.Source, def.Name),
		})
	}
	// Sorted, so that reordering the file restarts nothing.
	slices.SortStableFunc(out, func(a, b *swarm.SecretReference) int {
		return cmp.Or(cmp.Compare(a.SecretName, b.SecretName), cmp.Compare(a.File.Name, b.File.Name))
	})
	return out, nil
}

func convertConfigRefs(p *types.Project, namespace string, svc types.ServiceConfig) ([]*swarm.ConfigReference, error) {
	out := []*swarm.ConfigReference{}
	for _, ref := range svc.Configs {
		def, ok := p.Configs[ref.Source]
		if !ok {
			return nil, fmt.Errorf("undefined config %q", ref.Source)
		}
		name, uid, gid, mode := fileTarget(types.FileReferenceConfig(ref))
		out = append(out, &swarm.ConfigReference{
			File:       &swarm.ConfigReferenceFileTarget{Name: name, UID: uid, GID: gid, Mode: mode},
			ConfigName: objectName(namespace, ref.Source, def.Name),
		})
	}
	// A credential spec from a config is a runtime reference to it.
	if cs := svc.CredentialSpec; cs != nil && cs.Config != "" {
		def, ok := p.Configs[cs.Config]
		if !ok {
			return nil, fmt.Errorf("undefined config %q", cs.Config)
		}
		out = append(out, &swarm.ConfigReference{
			ConfigName: objectName(namespace, cs.Config, def.Name),
			Runtime:    &swarm.ConfigReferenceRuntimeTarget{},
		})
	}
	slices.SortStableFunc(out, func(a, b *swarm.ConfigReference) int { return cmp.Compare(a.ConfigName, b.ConfigName) })
	return out, nil
}

// convertExtraHosts turns host:ip mappings into swarm's "ip host" form,
// sorted (compose-go keeps them in a map).
func convertExtraHosts(hosts types.HostsList) []string {
	out := []string{}
	for _, hostIP := range hosts.AsList(":") {
		if host, ip, ok := strings.Cut(hostIP, ":"); ok {
			out = append(out, ip+" "+host)
		}
	}
	slices.Sort(out)
	return out
}

func convertHealthcheck(hc *types.HealthCheckConfig) (*container.HealthConfig, error) {
	if hc == nil {
		return nil, nil
	}
	if hc.Disable {
		if len(hc.Test) != 0 {
			return nil, errors.New("test and disable can't be set at the same time")
		}
		return &container.HealthConfig{Test: []string{"NONE"}}, nil
	}
	dur := func(d *types.Duration) time.Duration {
		if d == nil {
			return 0
		}
		return time.Duration(*d)
	}
	var retries int
	if hc.Retries != nil {
		retries = int(*hc.Retries)
	}
	return &container.HealthConfig{
		Test:          hc.Test,
		Timeout:       dur(hc.Timeout),
		Interval:      dur(hc.Interval),
		Retries:       retries,
		StartPeriod:   dur(hc.StartPeriod),
		StartInterval: dur(hc.StartInterval),
	}, nil
}

// convertRestartPolicy prefers deploy.restart_policy and falls back to the
// service's restart, as docker does.
func convertRestartPolicy(restart string, rp *types.RestartPolicy) (*swarm.RestartPolicy, error) {
	if rp != nil {
		out := &swarm.RestartPolicy{Condition: swarm.RestartPolicyCondition(rp.Condition), MaxAttempts: rp.MaxAttempts}
		if rp.Delay != nil {
			d := time.Duration(*rp.Delay)
			out.Delay = &d
		}
		if rp.Window != nil {
			w := time.Duration(*rp.Window)
			out.Window = &w
		}
		return out, nil
	}
	if restart == "" {
		return nil, nil
	}
	policy, err := opts.ParseRestartPolicy(restart)
	if err != nil {
		return nil, err
	}
	if policy.MaximumRetryCount < 0 {
		return nil, errors.New("invalid restart policy: maximum retry count cannot be negative")
	}
	var attempts *uint64
	if policy.MaximumRetryCount > 0 {
		n := uint64(policy.MaximumRetryCount)
		attempts = &n
	}
	switch policy.Name {
	case container.RestartPolicyDisabled, "":
		return nil, nil
	case container.RestartPolicyAlways, container.RestartPolicyUnlessStopped:
		return &swarm.RestartPolicy{Condition: swarm.RestartPolicyConditionAny, MaxAttempts: attempts}, nil
	case container.RestartPolicyOnFailure:
		return &swarm.RestartPolicy{Condition: swarm.RestartPolicyConditionOnFailure, MaxAttempts: attempts}, nil
	}
	return nil, fmt.Errorf("invalid restart policy: unknown policy '%s'", policy.Name)
}

func convertUpdateConfig(u *types.UpdateConfig) *swarm.UpdateConfig {
	if u == nil {
		return nil
	}
	parallelism := uint64(1)
	if u.Parallelism != nil {
		parallelism = *u.Parallelism
	}
	return &swarm.UpdateConfig{
		Parallelism:     parallelism,
		Delay:           time.Duration(u.Delay),
		FailureAction:   swarm.FailureAction(u.FailureAction),
		Monitor:         time.Duration(u.Monitor),
		MaxFailureRatio: u.MaxFailureRatio,
		Order:           swarm.UpdateOrder(u.Order),
	}
}

// nanoCPUs converts compose-go's float CPUs through their decimal text, so
// that 0.1 is 100000000 as docker makes it, not float32's 100000001.
func nanoCPUs(c types.NanoCPUs) (int64, error) {
	if c == 0 {
		return 0, nil
	}
	return opts.ParseCPUs(strconv.FormatFloat(float64(c), 'f', -1, 32))
}

func convertResources(src types.Resources) (*swarm.ResourceRequirements, error) {
	res := &swarm.ResourceRequirements{}
	if l := src.Limits; l != nil {
		cpus, err := nanoCPUs(l.NanoCPUs)
		if err != nil {
			return nil, err
		}
		res.Limits = &swarm.Limit{NanoCPUs: cpus, MemoryBytes: int64(l.MemoryBytes), Pids: l.Pids}
	}
	if r := src.Reservations; r != nil {
		cpus, err := nanoCPUs(r.NanoCPUs)
		if err != nil {
			return nil, err
		}
		var generic []swarm.GenericResource
		for _, g := range r.GenericResources {
			var gr swarm.GenericResource
			if d := g.DiscreteResourceSpec; d != nil {
				gr.DiscreteResourceSpec = &swarm.DiscreteGenericResource{Kind: d.Kind, Value: d.Value}
			}
			generic = append(generic, gr)
		}
		res.Reservations = &swarm.Resources{NanoCPUs: cpus, MemoryBytes: int64(r.MemoryBytes), GenericResources: generic}
	}
	return res, nil
}

func convertEndpointSpec(endpointMode string, ports []types.ServicePortConfig) (*swarm.EndpointSpec, error) {
	configs := make([]swarm.PortConfig, 0, len(ports))
	for _, p := range ports {
		var published uint64
		if p.Published != "" {
			var err error
			if published, err = strconv.ParseUint(p.Published, 10, 16); err != nil {
				return nil, fmt.Errorf("ports: invalid published port %q: swarm publishes single ports", p.Published)
			}
		}
		configs = append(configs, swarm.PortConfig{
			Name:          p.Name,
			Protocol:      network.IPProtocol(p.Protocol),
			TargetPort:    p.Target,
			PublishedPort: uint32(published),
			PublishMode:   swarm.PortConfigPublishMode(p.Mode),
		})
	}
	slices.SortFunc(configs, swarm.PortConfig.Compare)
	return &swarm.EndpointSpec{Mode: swarm.ResolutionMode(strings.ToLower(endpointMode)), Ports: configs}, nil
}

// convertEnvironment makes sorted KEY=value entries; a key without a value
// passes the variable through unset, as docker does.
func convertEnvironment(env types.MappingWithEquals) []string {
	out := make([]string, 0, len(env))
	for k, v := range env {
		if v == nil {
			out = append(out, k)
		} else {
			out = append(out, k+"="+*v)
		}
	}
	slices.Sort(out)
	return out
}

func convertDeployMode(mode string, replicas *int) (swarm.ServiceMode, error) {
	var n *uint64
	if replicas != nil {
		if *replicas < 0 {
			return swarm.ServiceMode{}, fmt.Errorf("deploy.replicas: must not be negative, not %d", *replicas)
		}
		u := uint64(*replicas)
		n = &u
	}
	switch mode {
	case "global-job":
		if n != nil {
			return swarm.ServiceMode{}, errors.New("replicas can only be used with replicated or replicated-job mode")
		}
		return swarm.ServiceMode{GlobalJob: &swarm.GlobalJob{}}, nil
	case "global":
		if n != nil {
			return swarm.ServiceMode{}, errors.New("replicas can only be used with replicated or replicated-job mode")
		}
		return swarm.ServiceMode{Global: &swarm.GlobalService{}}, nil
	case "replicated-job":
		return swarm.ServiceMode{ReplicatedJob: &swarm.ReplicatedJob{MaxConcurrent: n, TotalCompletions: n}}, nil
	case "replicated", "":
		return swarm.ServiceMode{Replicated: &swarm.ReplicatedService{Replicas: n}}, nil
	}
	return swarm.ServiceMode{}, fmt.Errorf("unknown mode: %s", mode)
}

// convertDNSConfig also carries dns_opt, which docker's stack deploy drops.
func convertDNSConfig(dns, search, options []string) *swarm.DNSConfig {
	if len(dns) == 0 && len(search) == 0 && len(options) == 0 {
		return nil
	}
	cfg := &swarm.DNSConfig{Search: search, Options: options}
	for _, ip := range dns {
		if addr, err := netip.ParseAddr(ip); err == nil {
			cfg.Nameservers = append(cfg.Nameservers, addr)
		}
	}
	return cfg
}

func convertCredentialSpec(cs *types.CredentialSpecConfig) (*swarm.CredentialSpec, error) {
	if cs == nil {
		return nil, nil
	}
	var set []string
	for name, v := range map[string]string{"Config": cs.Config, "File": cs.File, "Registry": cs.Registry} {
		if v != "" {
			set = append(set, `"`+name+`"`)
		}
	}
	slices.Sort(set)
	switch len(set) {
	case 0:
		return nil, nil
	case 1:
		// A config-based spec names the config; its ID is filled in at deploy.
		return &swarm.CredentialSpec{Config: cs.Config, File: cs.File, Registry: cs.Registry}, nil
	}
	return nil, fmt.Errorf("invalid credential spec: cannot specify both %s", strings.Join(set, " and "))
}

func convertUlimits(in map[string]*types.UlimitsConfig) []*container.Ulimit {
	out := make([]*container.Ulimit, 0, len(in))
	for name, u := range in {
		soft, hard := int64(u.Soft), int64(u.Hard)
		if u.Single != 0 {
			soft, hard = int64(u.Single), int64(u.Single)
		}
		out = append(out, &container.Ulimit{Name: name, Soft: soft, Hard: hard})
	}
	slices.SortFunc(out, func(a, b *container.Ulimit) int { return cmp.Compare(a.Name, b.Name) })
	return out
}
