from chassis.migrations import run
from users.models import Base

run(Base.metadata, "users")
