-- Custom domains a pod answers on besides <subdomain>.<domain> (each a full DNS name).
ALTER TABLE pods ADD COLUMN domains text[] NOT NULL DEFAULT '{}';
CREATE INDEX pods_domains_idx ON pods USING gin (domains);
