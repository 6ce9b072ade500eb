# The swarmauth refresher as an image: the static plugin binary, which runs on
# its own as docker-swarmauth. Build the binary first (make build), then:
#
#   docker build -t swarmauth .
#
# FROM scratch needs no base image, so this builds offline. To use a credential
# helper (ECR, ACR, ...), add its static binary on PATH in an image of your own:
#
#   FROM swarmauth
#   COPY docker-credential-ecr-login /usr/local/bin/
#
# and give it a config.json naming it (see deploy/refresher.stack.yml).
FROM scratch
COPY bin/docker-swarmauth /usr/local/bin/docker-swarmauth
ENV PATH=/usr/local/bin DOCKER_CONFIG=/etc/swarmauth
ENTRYPOINT ["/usr/local/bin/docker-swarmauth"]
CMD ["refresh", "--interval", "6h", "--log-format", "json"]
