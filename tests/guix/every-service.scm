;;; An operating system using every service of the channel, for
;;;
;;;   guix system image -L channel --image-type=docker -d \
;;;     --target=aarch64-linux-gnu \
;;;     tests/guix/every-service.scm
;;;
;;; (cross-compiled: the build-time tools the services run, such as fsdgimg
;;; writing nginx locations, must be native).
(use-modules (fsdgimg services containers)
             (fsdgimg services registry)
             (fsdgimg services static-registry)
             (fsdgimg systems)
             (gnu services)
             (gnu services web)
             (gnu system))

(operating-system
  (inherit %container-base-os)
  (host-name "every-service")
  (services
   (append (list (service registry-service-type)
                 (service nginx-service-type)
                 (service static-registry-service-type)
                 (service containers-registries-service-type))
           (operating-system-user-services %container-base-os))))
