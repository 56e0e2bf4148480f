;;; Everything needed to hack on fsdgimg:
;;;
;;;   guix shell -m manifests/dev.scm
;;;
;;; fsdgimg's own dependencies, the test suites' and the external tools it
;;; drives or is tested against.  The Python dependencies come from
;;; python/pyproject.toml, through the fsdgimg package of the channel.

;; Use the channel of this checkout, whether or not it was pulled.
(set! %load-path
      (cons (canonicalize-path
             (string-append (dirname (current-filename)) "/../channel"))
            %load-path))

(use-modules (fsdgimg packages fsdgimg)
             (fsdgimg packages registry)
             (gnu packages)
             (guix profiles))

(concatenate-manifests
 (list (package->development-manifest fsdgimg)
       (packages->manifest
        (cons distribution-registry
              (map (lambda (name)
                     (specification->package (string-append "python-" name)))
                   (fsdgimg-python-requirements "test"))))
       (specifications->manifest
        '("python"
          ;; Image tools fsdgimg drives or is checked against.
          "skopeo" "umoci" "podman" "debootstrap" "diffoscope"
          "pigz" "zstd" "tar" "gzip"
          ;; Servers of the end-to-end tests.
          "nginx" "curl"
          ;; The channel's side.
          "guile" "guix" "git"))))
