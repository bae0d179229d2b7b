package killswitch_test

import data.killswitch

test_state_is_the_switch_data if {
	killswitch.state.ai_training == {"active": true, "reason": "training paused pending model review"}
	killswitch.state.billing.active == false
}

test_state_is_empty_without_switch_data if {
	killswitch.state == {} with data.killswitch.modules as null
}

test_state_is_empty_when_switch_data_is_not_an_object if {
	killswitch.state == {} with data.killswitch.modules as ["ai_training"]
}
