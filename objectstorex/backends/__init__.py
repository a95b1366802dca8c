"""Store backends: one module per provider; cloud SDKs are imported only by their module."""
