-- The files stay under --storage-dir, no longer tied to their owners.
DROP TABLE oa_upload;
