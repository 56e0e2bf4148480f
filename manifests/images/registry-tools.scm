;;; An image with the tools to run and inspect container registries: the
;;; CNCF Distribution registry, Skopeo, umoci, fsdgimg itself, and a shell.
;;;
;;;   guix pack -f docker -m manifests/images/registry-tools.scm

;; Use the channel of this checkout, whether or not it was pulled.
(set! %load-path
      (cons (canonicalize-path
             (string-append (dirname (current-filename)) "/../../channel"))
            %load-path))

(use-modules (fsdgimg packages fsdgimg)
             (fsdgimg packages registry)
             (gnu packages)
             (guix profiles))

(concatenate-manifests
 (list (packages->manifest (list distribution-registry fsdgimg))
       (specifications->manifest
        '("skopeo" "umoci" "curl" "nss-certs" "bash" "coreutils"))))
