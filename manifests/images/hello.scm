;;; The smallest package-set image: GNU Hello and nothing else.
;;;
;;;   guix pack -f docker -m manifests/images/hello.scm
(use-modules (gnu packages base)
             (guix profiles))

(packages->manifest (list hello))
