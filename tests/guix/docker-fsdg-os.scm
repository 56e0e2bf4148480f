;;; An operating system running docker-fsdg-service-type, for
;;;
;;;   guix system build -L channel -d --no-grafts tests/guix/docker-fsdg-os.scm
;;;
;;; (the service's requirements, containerd, dbus, elogind and networking,
;;; are met as README.md's example meets them).
(use-modules (fsdgimg services docker)
             (gnu)
             (gnu services dbus)
             (gnu services desktop)
             (gnu services docker)
             (gnu services networking))

(operating-system
  (host-name "docker-fsdg")
  (bootloader (bootloader-configuration
                (bootloader grub-bootloader)
                (targets '("/dev/vda"))))
  (file-systems (cons (file-system
                        (device "/dev/vda1")
                        (mount-point "/")
                        (type "ext4")) %base-file-systems))
  (services
   (append (list (service dhcpcd-service-type)
                 (service dbus-root-service-type)
                 (service elogind-service-type)
                 (service containerd-service-type)
                 (service docker-fsdg-service-type
                          (docker-fsdg-configuration
                           (default-registry "registry.example.org"))))
           %base-services)))
