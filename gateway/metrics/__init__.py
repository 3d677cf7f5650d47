"""Unit metrics in working time, as GGUS counts them: per unit, priority, category, component
and period."""
