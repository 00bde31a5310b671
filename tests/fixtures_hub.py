# filled by the hub helper
