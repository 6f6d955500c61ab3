# Sphinx configuration for the vfio-user-client documentation.
#
# Built by "ninja -C build docs" (HTML and man pages) and checked by the
# meson test "sphinx-html" with warnings as errors.  Stock Sphinx only: the
# default alabaster theme and no third-party extensions.
#
# Copyright (c) 2026 vfio-user-client developers
# SPDX-License-Identifier: GPL-2.0-or-later

project = 'vfio-user-client'
author = 'vfio-user-client developers'
copyright = '2026, vfio-user-client developers'
version = '0.1'
release = '0.1.0'

extensions = []
source_suffix = {'.rst': 'restructuredtext'}
root_doc = 'index'
exclude_patterns = ['_build', 'README-tour.md', 'meson.build']
language = 'en'
highlight_language = 'none'
pygments_style = 'sphinx'

html_theme = 'alabaster'
html_title = 'vfio-user-client documentation'
html_show_sourcelink = False

# (source document, page name, description, authors, section)
man_pages = [
    ('man/vfio-user-vmm', 'vfio-user-vmm',
     'minimal VMM hosting vfio-user PCI devices', [author], 1),
    ('man/vfio-user-server', 'vfio-user-server',
     'sample vfio-user device server (edu, ram, pio)', [author], 1),
]
man_make_section_directory = False
