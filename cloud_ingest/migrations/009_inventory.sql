-- The equipment inventory (设备台账) of an enterprise: every production device, networked or not,
-- since the MIIT networking rate divides by all of them. Imported from CSV/XLSX
-- (cloud_ingest/evidence/inventory_file.py); matched to announced devices by code.
CREATE TABLE inventory_devices (
    enterprise_id  int NOT NULL REFERENCES enterprises (id),
    code           text NOT NULL,
    name           text NOT NULL,
    type           text,
    workshop       text,
    line           text,
    key_process    boolean NOT NULL,
    networked      boolean NOT NULL,            -- as the enterprise declares it
    digital        boolean NOT NULL,            -- digitally capable, as declared
    production     boolean NOT NULL DEFAULT true,
    business_links text[] NOT NULL DEFAULT '{}',
    notes          text,
    line_no        int,                         -- where the row was in the file last imported
    updated_at     timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (enterprise_id, code)
);

-- One row per import, for the record the figures cite (which file, when, its digest).
CREATE TABLE inventory_imports (
    id            bigserial PRIMARY KEY,
    enterprise_id int NOT NULL REFERENCES enterprises (id),
    imported_at   timestamptz NOT NULL DEFAULT now(),
    source        text NOT NULL,                -- file name
    sha256        text NOT NULL,
    encoding      text,
    mode          text NOT NULL,                -- merge | replace | partial
    rows_ok       int NOT NULL,
    rows_rejected int NOT NULL,
    rows_removed  int NOT NULL DEFAULT 0,
    imported_by   text
);
CREATE INDEX inventory_imports_enterprise ON inventory_imports (enterprise_id, imported_at);
