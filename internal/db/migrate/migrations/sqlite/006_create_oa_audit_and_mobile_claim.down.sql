-- WARNING: drops the audit trail of support actions and self-cancels.
DROP TABLE oa_mobile_claim;
DROP TABLE oa_audit;
