-- Wire v1 grew TagInfo.links: the business links (业务环节, wire/business_links.py) a tag
-- serves, announced in births, so the evidence can show which of the MIIT indicator's 14 links
-- have automatically collected data.
ALTER TABLE tags ADD COLUMN business_links text[] NOT NULL DEFAULT '{}';
