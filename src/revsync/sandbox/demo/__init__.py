"""``revsync demo``: a quarter of a B2B SaaS company through revsync, against a local Tryton ERP
and the CRM sandbox, checked through their own APIs (see :mod:`revsync.sandbox.demo.run`)."""

from __future__ import annotations

from revsync.sandbox.demo.report import DemoReport
from revsync.sandbox.demo.run import run_demo

__all__ = ["DemoReport", "run_demo"]
