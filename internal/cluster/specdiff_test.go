package cluster

import (
	"testing"

	"github.com/moby/moby/api/types/swarm"
	"gotest.tools/v3/assert"
	is "gotest.tools/v3/assert/cmp"
)

func TestSpecDiff(t *testing.T) {
	a := swarm.ServiceSpec{
		Annotations:  swarm.Annotations{Name: "web", Labels: map[string]string{}},
		TaskTemplate: swarm.TaskSpec{ContainerSpec: &swarm.ContainerSpec{Image: "nginx:1", Env: []string{}}},
	}
	b := swarm.ServiceSpec{
		Annotations:  swarm.Annotations{Name: "web"},
		TaskTemplate: swarm.TaskSpec{ContainerSpec: &swarm.ContainerSpec{Image: "nginx:1"}},
	}
	assert.Check(t, SpecEqual(a, b), "nil and empty are the same")
	assert.Check(t, is.Len(SpecDiff(a, b, 3), 0))

	b.TaskTemplate.ContainerSpec.Image = "nginx:2"
	b.TaskTemplate.ContainerSpec.Env = []string{"A=1"}
	b.Labels = map[string]string{"x": "y"}
	assert.Check(t, is.DeepEqual(SpecDiff(a, b, 3), []string{"Labels", "TaskTemplate.ContainerSpec.Env", "TaskTemplate.ContainerSpec.Image"}))
	assert.Check(t, is.DeepEqual(SpecDiff(a, b, 1), []string{"Labels", "TaskTemplate"}))
}
