from chassis.migrations import run
from orders.models import Base

run(Base.metadata, "orders")
