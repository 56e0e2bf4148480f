;; News of the fsdgimg channel, shown by 'guix pull --news'.
;; Newest entries first; 'commit' is the commit that brought the change.
(channel-news
 (version 0)
 (entry (commit "80f45a4b2171e81bdd91344fcc6dd605b588ea1c")
        (title
         (en "Docker without Docker Hub: @code{docker-fsdg} and its service"))
        (body
         (en "The new packages @code{docker-fsdg} and @code{docker-cli-fsdg}
are Guix's Docker 20.10, patched so that a short image name such as
@code{trisquel:11} resolves to the registry named by
@env{DOCKER_DEFAULT_REGISTRY}, and so that Docker Hub is refused under all its
names unless @env{DOCKER_ALLOW_DOCKER_HUB} is @code{1}.  Run them with
@code{docker-fsdg-service-type} from @code{(fsdgimg services docker)}, in
place of @code{docker-service-type}; its @code{default-registry} field sets
the registry for the daemon and for login sessions.")))
 (entry (commit "d795a0a72df4208ab1afdcf9de95af49eaaaff8a")
        (title
         (en "Registry services: checked addresses, debug server, Home record"))
        (body
         (en "@code{registry-configuration} now refuses an invalid address
or a relative storage or htpasswd file name, pointing at the offending value,
and has a @code{debug-address} serving @code{/debug/health} and
@code{/metrics}.  @code{home-registry-service-type} takes the new
@code{home-registry-configuration}, which has no user, group or log file.")))
 (entry (commit "fe35d69f4d30a769472ac445ad9db2b91c2f5454")
        (title
         (en "Containers policy: @file{policy.json} and Docker Hub blocked"))
        (body
         (en "@code{containers-registries-service-type} now also writes
@file{/etc/containers/policy.json}, which rejects images except from the
configured FSDG registries (and local transports), and can require sigstore
or GPG signatures.  Docker Hub is blocked under all its names and refused in
any spelling.  @code{home-containers-registries-service-type} writes the same
files for one user.  With @code{rootless-podman-service-type}, pass
@code{containers-registries-file} and @code{containers-policy-file} to it
instead of adding this service.")))
 (entry (commit "856d4a9fa185a65ca09520c12fc662e9d56f42e0")
        (title
         (en "fsdgimg channel: registry services and image systems"))
        (body
         (en "The fsdgimg channel provides @code{fsdgimg}, the tool that
builds, checks and publishes container images of FSDG distributions, and
@code{distribution-registry} 3.x.  Its services run a registry
(@code{registry-service-type}, @code{home-registry-service-type}), serve a
static registry through nginx (@code{static-registry-service-type}) and
restrict short image names to FSDG registries
(@code{containers-registries-service-type}).  The systems
@code{guix-minimal} and @code{guix-registry} build with @command{guix system
image --image-type=docker}."))))
