;; News of the fsdgimg channel, shown by 'guix pull --news'.
;; Newest entries first; 'commit' is the commit that brought the change.
(channel-news
 (version 0)
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
