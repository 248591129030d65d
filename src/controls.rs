//! The built-in catalogue of compliance controls a drill can give evidence
//! for. A scenario names them in `controls = [...]`; validation rejects ids
//! not listed here, and every report has a section per control.
//!
//! Each entry was checked against public text of the framework (the
//! `source` field says where); ids that could not be checked are left out.

use serde::Serialize;

/// One control in the catalogue.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct Control {
    /// The id a scenario writes, e.g. `SOC2-A1.3`.
    pub id: &'static str,
    pub framework: &'static str,
    /// The control's reference and title in the framework.
    pub reference: &'static str,
    pub title: &'static str,
    /// What a firedrill run contributes as evidence.
    pub evidence: &'static str,
    /// Public text the id and title were checked against.
    pub source: &'static str,
}

/// Every known control.
pub const CATALOGUE: &[Control] = &[
    Control {
        id: "SOC2-A1.2",
        framework: "AICPA Trust Services Criteria (2017), SOC 2",
        reference: "A1.2",
        title: "The entity authorizes, designs, develops or acquires, implements, operates, approves, maintains, and monitors environmental protections, software, data backup processes, and recovery infrastructure to meet its objectives.",
        evidence: "Shows that the backup process of each target produced a usable copy: the backup stage, the restored copy and its validation checks, with timings and AWS request ids.",
        source: "AICPA 2017 Trust Services Criteria (TSP section 100), criterion A1.2; text as reproduced at ac5labs.com/soc2-readiness/controls/A1.2",
    },
    Control {
        id: "SOC2-A1.3",
        framework: "AICPA Trust Services Criteria (2017), SOC 2",
        reference: "A1.3",
        title: "The entity tests recovery plan procedures supporting system recovery to meet its objectives.",
        evidence: "A recovery test executed end to end: fault injected, restore performed, restored data validated, with measured RTO and RPO against the stated objectives.",
        source: "AICPA 2017 Trust Services Criteria (TSP section 100), criterion A1.3; text as reproduced at ac5labs.com/soc2-readiness/controls/A1.3",
    },
    Control {
        id: "SOC2-CC7.5",
        framework: "AICPA Trust Services Criteria (2017), SOC 2",
        reference: "CC7.5",
        title: "The entity identifies, develops, and implements activities to recover from identified security incidents.",
        evidence: "Recovery activities exercised against a simulated destructive incident (the fault), with the time to recover and the data lost measured.",
        source: "AICPA 2017 Trust Services Criteria, common criterion CC7.5; text quoted at kirkpatrickprice.com (SOC 2 Academy: Recovering from a Security Incident)",
    },
    Control {
        id: "ISO27001-A.5.30",
        framework: "ISO/IEC 27001:2022 Annex A",
        reference: "A.5.30",
        title: "ICT readiness for business continuity",
        evidence: "ICT recovery capability tested against the recovery objectives (RTO, RPO) the scenario states.",
        source: "ISO/IEC 27001:2022 Annex A control list (5.30 ICT readiness for business continuity), as listed at iso27001.com and hightable.io",
    },
    Control {
        id: "ISO27001-A.8.13",
        framework: "ISO/IEC 27001:2022 Annex A",
        reference: "A.8.13",
        title: "Information backup",
        evidence: "A backup restored and its content checked, not merely taken: restored copy validated object by object or row by row.",
        source: "ISO/IEC 27001:2022 Annex A control list (8.13 Information backup), as listed at sefthy.com and voragosecurity.com",
    },
    Control {
        id: "ISO22301-8.5",
        framework: "ISO 22301:2019",
        reference: "Clause 8.5",
        title: "Exercise programme",
        evidence: "One exercise of the programme with a formal post-exercise report (this report), outcomes and findings, and a history of earlier exercises.",
        source: "ISO 22301:2019 clause structure (8.5 Exercise programme), as described at isomanaged.com and glocertinternational.com",
    },
    Control {
        id: "DORA-Art.11",
        framework: "Regulation (EU) 2022/2554 (DORA)",
        reference: "Article 11",
        title: "Response and recovery",
        evidence: "Recovery of an ICT service exercised and timed against its recovery objectives.",
        source: "Regulation (EU) 2022/2554, OJ L 333, 27.12.2022, Article 11 title; as reproduced at learn.daydream.ai and atlas.valendir.com",
    },
    Control {
        id: "DORA-Art.12",
        framework: "Regulation (EU) 2022/2554 (DORA)",
        reference: "Article 12",
        title: "Backup policies and procedures, restoration and recovery procedures and methods",
        evidence: "Restoration from backup executed and validated, with data loss measured by canary writes.",
        source: "Regulation (EU) 2022/2554, OJ L 333, 27.12.2022, Article 12 title; as reproduced at learn.daydream.ai and digital-operational-resilience.net",
    },
    Control {
        id: "DORA-Art.24",
        framework: "Regulation (EU) 2022/2554 (DORA)",
        reference: "Article 24",
        title: "General requirements for the performance of digital operational resilience testing",
        evidence: "One test of the resilience testing programme, with findings and a history of earlier runs to show it is maintained.",
        source: "Regulation (EU) 2022/2554, OJ L 333, 27.12.2022, Article 24; text reproduced at springlex.eu (dora-regulation/article-24)",
    },
    Control {
        id: "DORA-Art.25",
        framework: "Regulation (EU) 2022/2554 (DORA)",
        reference: "Article 25",
        title: "Testing of ICT tools and systems",
        evidence: "A scenario-based, end-to-end test of backup and restore of an ICT system.",
        source: "Regulation (EU) 2022/2554, OJ L 333, 27.12.2022, Article 25; text reproduced at springlex.eu (dora-regulation/article-25)",
    },
    Control {
        id: "HIPAA-164.308(a)(7)(ii)(D)",
        framework: "HIPAA Security Rule, 45 CFR Part 164",
        reference: "§ 164.308(a)(7)(ii)(D)",
        title: "Testing and revision procedures (Addressable): implement procedures for periodic testing and revision of contingency plans.",
        evidence: "A periodic test of the contingency (backup and disaster recovery) plan, with results and history.",
        source: "45 CFR 164.308(a)(7)(ii)(D); text as reproduced in TIBCO LogLogic HIPAA compliance docs (164.308(a)(7) Contingency Plan) and lionfishcybersecurity.com",
    },
    Control {
        id: "PCI-DSS-12.10.2",
        framework: "PCI DSS v4.0",
        reference: "Requirement 12.10.2",
        title: "At least once every 12 months, the security incident response plan is reviewed and the content is updated as needed, and tested, including all elements listed in Requirement 12.10.1.",
        evidence: "A test of the data backup and business recovery elements of the incident response plan (12.10.1), dated and signed.",
        source: "PCI DSS v4.0 Requirement 12.10.2 defined approach text, as reproduced at withpci.com and guides.g5cybersecurity.com",
    },
];

/// Every id, for "did you mean" suggestions.
pub fn ids() -> Vec<&'static str> {
    CATALOGUE.iter().map(|c| c.id).collect()
}

/// Look a control up by id (exact, case-insensitive).
pub fn lookup(id: &str) -> Option<&'static Control> {
    CATALOGUE.iter().find(|c| c.id.eq_ignore_ascii_case(id))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_unique_and_every_entry_has_a_source() {
        let mut ids = ids();
        ids.sort_unstable();
        ids.dedup();
        assert_eq!(ids.len(), CATALOGUE.len());
        assert!(CATALOGUE.iter().all(|c| !c.source.is_empty()));
    }

    #[test]
    fn lookup_ignores_case() {
        assert_eq!(lookup("soc2-a1.3").map(|c| c.reference), Some("A1.3"));
        assert!(lookup("SOC2-A1.9").is_none());
    }
}
