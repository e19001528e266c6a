"""Working a lead: contacts, activities, qualification, grading, tasks (the working issue fills it)."""
