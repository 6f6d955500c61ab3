/*
 * test-server-dma shares the test device and fake client of test-server
 * (test-server-helpers.c); the unit-test build links one helper file per
 * test, so this one includes the shared code.
 *
 * Copyright (c) 2026 vfio-user-client developers
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include "test-server-helpers.c"
