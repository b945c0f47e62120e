-- The dashboard's overview reads these every few seconds per open page:
-- a tenant's latest stock movements, and its listings counted per
-- connection and status. Without them, the first walks every tenant's
-- history backwards and the second every listing of the tenant.
CREATE INDEX inventory_history_tenant_created ON inventory_history (tenant_id, created_at);
CREATE INDEX platform_listings_tenant_status ON platform_listings (tenant_id, connection_id, status);
